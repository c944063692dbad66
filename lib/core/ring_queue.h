// RingQueue<T>: a first-in first-out queue on one growable ring of slots. Unlike std::deque,
// which allocates and frees a block every few elements as a queue moves through it, it
// allocates only to grow past the most it has held, so a steady stream of pushes and pops
// allocates nothing. Indexing counts from the front.
#pragma once
#include <cstddef>
#include <utility>
#include <vector>

namespace rl::core {

template <typename T>
class RingQueue {
 public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  T& operator[](std::size_t i) { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  const T& operator[](std::size_t i) const { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  T& front() { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }

  void push_back(T value) {
    if (size_ == slots_.size()) grow();
    (*this)[size_] = std::move(value);
    ++size_;
  }

  // Drops the front element; its slot is reset to T{}, so it holds on to nothing.
  void pop_front() {
    front() = T{};
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
  }

  void swap(RingQueue& other) noexcept {
    slots_.swap(other.slots_);
    std::swap(head_, other.head_);
    std::swap(size_, other.size_);
  }

 private:
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 16 : slots_.size() * 2);  // a power of two
    for (std::size_t i = 0; i < size_; ++i)
      bigger[i] = std::move((*this)[i]);
    slots_.swap(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace rl::core
