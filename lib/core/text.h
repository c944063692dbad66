// Small text helpers shared by parsers of untrusted input (HTTP headers, config values, URLs):
// strict integer parsing, ASCII case-insensitive comparison, trimming, JSON string escaping.
// Nothing here allocates unless it appends to a caller's buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rl::core {

// Parses a whole string as a base-10 integer: no sign unless negative, no spaces, no overflow.
std::optional<std::int64_t> parse_int64(std::string_view text);

bool iequals(std::string_view a, std::string_view b);
std::string_view trim(std::string_view text);

// Appends `text` as a JSON string literal, quotes included, escaping what RFC 8259 requires and
// replacing invalid UTF-8 with U+FFFD so the output is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

// Appends the decimal form of `value`.
void append_int(std::string& out, std::int64_t value);

// Percent-decodes a URL path segment into `out`; false if an escape is malformed.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace rl::core
