// FreeList<T>: objects reused instead of allocated, for state a hot path needs per operation
// (a Redis call in flight, say). acquire() hands out a released object as it was left — its
// strings and vectors keep their capacity, so refilling them allocates nothing once they have
// grown to the working size — or a new one. The list owns every object it made: they live as
// long as it does, and it never holds more than the most ever in use at once.
// Single-threaded, like everything of one event loop.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

namespace rl::core {

template <typename T>
class FreeList {
 public:
  T* acquire() {
    if (free_.empty()) {
      all_.push_back(std::make_unique<T>());
      return all_.back().get();
    }
    T* t = free_.back();
    free_.pop_back();
    return t;
  }

  // `t` (from acquire()) may be handed out again.
  void release(T* t) { free_.push_back(t); }

  std::size_t size() const { return all_.size(); }

 private:
  std::vector<std::unique_ptr<T>> all_;
  std::vector<T*> free_;
};

}  // namespace rl::core
