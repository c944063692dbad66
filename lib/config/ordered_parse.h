// parse_ordered(): JSON text to an nlohmann::ordered_json, as ordered_json::parse does (comments
// allowed), in time linear in the number of entries. ordered_json::parse inserts each key by
// scanning every key before it in its object, so an object of n keys takes n²/2 comparisons:
// a tier file of 100,000 users took 105 s to read. A key given twice keeps its last value, as
// with ordered_json::parse. Throws what ordered_json::parse throws (parse_error, out_of_range).
#pragma once
#include <string_view>

#include <nlohmann/json.hpp>

namespace rl::config {

nlohmann::ordered_json parse_ordered(std::string_view text);

}  // namespace rl::config
