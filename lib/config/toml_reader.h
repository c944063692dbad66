// Typed, bounds-checked reads from one toml++ table that collect every problem instead of
// stopping at the first, each naming file, line, dotted key and what was expected. Keys the
// schema never asked for are reported as unknown (a typo must not be silently ignored).
// Internal to lib/config: the only place toml++ is used.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "core/clock.h"

namespace rl::config {

class TomlReader {
 public:
  TomlReader(const toml::table& table, std::string file, std::string prefix,
             std::vector<std::string>& problems);

  bool has(std::string_view key) const { return table_.contains(key); }
  bool is_array(std::string_view key) const {
    const toml::node* node = table_.get(key);
    return node != nullptr && node->is_array();
  }
  // A sub-table; an empty table when absent; reports a problem when of another type.
  TomlReader section(std::string_view key);

  void integer(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max);
  void size(std::string_view key, std::size_t& out, std::size_t min, std::size_t max);
  void boolean(std::string_view key, bool& out);
  // `secret`: a value of the wrong type is not echoed in the message (admin keys, URLs with
  // passwords).
  void string(std::string_view key, std::string& out, bool secret = false);
  void string_list(std::string_view key, std::vector<std::string>& out);
  void millis(std::string_view key, core::Millis& out, std::int64_t min, std::int64_t max);
  // A string that must be one of `options`' names; `expected` says which, for the message.
  template <class E>
  void choice(std::string_view key, E& out,
              std::initializer_list<std::pair<std::string_view, E>> options,
              std::string_view expected) {
    std::string text;
    string(key, text);
    if (!has(key) || !table_.get(key)->is_string()) return;
    for (const auto& [name, value] : options) {
      if (text == name) {
        out = value;
        return;
      }
    }
    problem(key, expected);
  }
  void seconds(std::string_view key, core::Seconds& out, std::int64_t min, std::int64_t max);

  // Reports a value that has the right type but is wrong for another reason.
  void problem(std::string_view key, std::string_view expected);
  // Same, with a message that says it all ("<file>:<line>: <key>: <message>").
  void invalid(std::string_view key, std::string_view message);
  // Reports every key not read through this reader.
  void finish();

 private:
  const toml::node* get(std::string_view key);
  void expected(std::string_view key, const toml::node& node, std::string_view what);
  std::string where(std::string_view key, const toml::node* node) const;

  const toml::table& table_;
  std::string file_;
  std::string prefix_;
  std::vector<std::string>& problems_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace rl::config
