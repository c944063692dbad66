// TomlReader: the checks behind every rld.toml key.
#include "config/toml_reader.h"

#include <sstream>

namespace rl::config {
namespace {

const toml::table& empty_table() {
  static const toml::table kEmpty;
  return kEmpty;
}

std::string describe(const toml::node& node) {
  std::ostringstream out;
  if (node.is_string()) {
    out << '"' << node.value_or(std::string_view{}) << '"';
  } else if (node.is_table()) {
    out << "a table";
  } else if (node.is_array()) {
    out << "an array";
  } else {
    node.visit([&](const auto& value) { out << value; });
  }
  return out.str();
}

}  // namespace

TomlReader::TomlReader(const toml::table& table, std::string file, std::string prefix,
                       std::vector<std::string>& problems)
    : table_(table), file_(std::move(file)), prefix_(std::move(prefix)), problems_(problems) {}

std::string TomlReader::where(std::string_view key, const toml::node* node) const {
  std::string out = file_;
  if (node != nullptr && node->source().begin.line > 0) {
    out.push_back(':');
    out.append(std::to_string(node->source().begin.line));
  }
  out += ": ";
  out += prefix_;
  out += key;
  return out;
}

const toml::node* TomlReader::get(std::string_view key) {
  seen_.emplace(key);
  return table_.get(key);
}

void TomlReader::expected(std::string_view key, const toml::node& node, std::string_view what) {
  problems_.push_back(where(key, &node) + ": expected " + std::string(what) + ", got " +
                      describe(node));
}

void TomlReader::invalid(std::string_view key, std::string_view message) {
  problems_.push_back(where(key, table_.get(key)) + ": " + std::string(message));
}

void TomlReader::problem(std::string_view key, std::string_view expected_text) {
  problems_.push_back(where(key, table_.get(key)) + ": expected " + std::string(expected_text));
}

TomlReader TomlReader::section(std::string_view key) {
  const toml::node* node = get(key);
  if (node == nullptr)
    return TomlReader(empty_table(), file_, prefix_ + std::string(key) + ".", problems_);
  if (const auto* table = node->as_table()) {
    return TomlReader(*table, file_, prefix_ + std::string(key) + ".", problems_);
  }
  expected(key, *node, "a table");
  return TomlReader(empty_table(), file_, prefix_ + std::string(key) + ".", problems_);
}

void TomlReader::integer(std::string_view key, std::int64_t& out, std::int64_t min,
                         std::int64_t max) {
  const toml::node* node = get(key);
  if (node == nullptr) return;
  const auto value = node->value_exact<std::int64_t>();
  if (!value || *value < min || *value > max) {
    expected(key, *node, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
    return;
  }
  out = *value;
}

void TomlReader::size(std::string_view key, std::size_t& out, std::size_t min, std::size_t max) {
  std::int64_t value = static_cast<std::int64_t>(out);
  integer(key, value, static_cast<std::int64_t>(min), static_cast<std::int64_t>(max));
  out = static_cast<std::size_t>(value);
}

void TomlReader::boolean(std::string_view key, bool& out) {
  const toml::node* node = get(key);
  if (node == nullptr) return;
  if (const auto value = node->value_exact<bool>()) {
    out = *value;
  } else {
    expected(key, *node, "true or false");
  }
}

void TomlReader::string(std::string_view key, std::string& out, bool secret) {
  const toml::node* node = get(key);
  if (node == nullptr) return;
  if (const auto value = node->value_exact<std::string>()) {
    out = *value;
  } else if (secret) {
    problems_.push_back(where(key, node) + ": expected a string (the value is not shown)");
  } else {
    expected(key, *node, "a string");
  }
}

void TomlReader::string_list(std::string_view key, std::vector<std::string>& out) {
  const toml::node* node = get(key);
  if (node == nullptr) return;
  const auto* array = node->as_array();
  if (array == nullptr) {
    expected(key, *node, "an array of strings");
    return;
  }
  std::vector<std::string> values;
  for (const auto& element : *array) {
    const auto value = element.value_exact<std::string>();
    if (!value) {
      expected(key, element, "an array of strings");
      return;
    }
    values.push_back(*value);
  }
  out = std::move(values);
}

void TomlReader::millis(std::string_view key, core::Millis& out, std::int64_t min,
                        std::int64_t max) {
  std::int64_t value = out.count();
  integer(key, value, min, max);
  out = core::Millis{value};
}

void TomlReader::seconds(std::string_view key, core::Seconds& out, std::int64_t min,
                         std::int64_t max) {
  std::int64_t value = out.count();
  integer(key, value, min, max);
  out = core::Seconds{value};
}

void TomlReader::finish() {
  for (auto&& [key, node] : table_) {
    if (!seen_.contains(key.str())) {
      problems_.push_back(where(key.str(), &node) + ": unknown key");
    }
  }
}

}  // namespace rl::config
