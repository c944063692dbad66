// BoundedCache: a string-keyed cache that never holds more than its capacity — the one eviction
// rule for every cache of the Redis store and directory. Entries are negative ("known not to
// exist", cheap to lose) or positive. A full cache makes room by evicting the oldest negative
// entry, else the oldest entry ("oldest" = least recently put), so a flood of unknown names can
// never push out, nor keep out, the entries that matter. Lookups take a string_view and
// allocate nothing. Not thread-safe: one per event loop.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <utility>

#include "store/string_map.h"

namespace rl::store {

template <class V>
class BoundedCache {
 public:
  explicit BoundedCache(std::size_t capacity) : capacity_(capacity) {}
  BoundedCache(const BoundedCache&) = delete;  // the order lists point into the map
  BoundedCache& operator=(const BoundedCache&) = delete;

  V* find(std::string_view key) {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second.value;
  }
  const V* find(std::string_view key) const {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second.value;
  }

  // Inserts or replaces `key`, which becomes the newest entry. When the cache is full, the
  // oldest negative entry makes room, else the oldest entry — unless the new entry is itself
  // negative: a negative entry never evicts a positive one, and is then not cached (false).
  bool put(std::string_view key, V value, bool negative = false) {
    if (auto it = map_.find(key); it != map_.end()) {
      Entry& e = it->second;
      e.value = std::move(value);
      order(negative).splice(order(negative).end(), order(e.negative), e.at);
      e.negative = negative;
      return true;
    }
    if (capacity_ == 0) return false;
    if (map_.size() >= capacity_) {
      if (!negatives_.empty()) {
        evict(negatives_);
      } else if (negative) {
        return false;
      } else {
        evict(positives_);
      }
    }
    auto [it, inserted] = map_.emplace(std::string(key), Entry{std::move(value), negative, {}});
    it->second.at = order(negative).insert(order(negative).end(), &it->first);
    return inserted;
  }

  bool erase(std::string_view key) {
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    order(it->second.negative).erase(it->second.at);
    map_.erase(it);
    return true;
  }

  // Erases every entry for which pred(key, value) holds; returns how many.
  template <class Pred>
  std::size_t erase_if(Pred pred) {
    std::size_t n = 0;
    for (auto it = map_.begin(); it != map_.end();) {
      if (pred(std::as_const(it->first), std::as_const(it->second.value))) {
        order(it->second.negative).erase(it->second.at);
        it = map_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }

  // f(key, value&) for every entry, in no particular order. `f` must not add or erase.
  template <class F>
  void for_each(F f) {
    for (auto& [key, entry] : map_)
      f(std::as_const(key), entry.value);
  }

  void clear() {
    map_.clear();
    negatives_.clear();
    positives_.clear();
  }
  std::size_t size() const { return map_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  // Keys point at the map's own key strings: unordered_map nodes never move.
  using Order = std::list<const std::string*>;
  struct Entry {
    V value;
    bool negative = false;
    typename Order::iterator at;
  };

  Order& order(bool negative) { return negative ? negatives_ : positives_; }
  void evict(Order& from) {
    const std::string* oldest = from.front();
    from.pop_front();
    map_.erase(map_.find(*oldest));
  }

  std::size_t capacity_;
  StringMap<Entry> map_;
  Order negatives_;  // oldest first
  Order positives_;  // oldest first
};

}  // namespace rl::store
