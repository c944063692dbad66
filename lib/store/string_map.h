// unordered_map keyed by std::string that can be searched with a std::string_view without
// building a string (C++20 heterogeneous lookup): lookups on the hot path allocate nothing.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rl::store {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

}  // namespace rl::store
