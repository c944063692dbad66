// A SAX handler that builds the ordered_json itself: values are appended to their object
// directly, and a hash index per open object finds a repeated key without a scan.
#include "config/ordered_parse.h"

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rl::config {
namespace {

using json = nlohmann::ordered_json;
using Entries = json::object_t::Container;  // ordered_map is a vector of (key, value) pairs

class Builder final : public nlohmann::json_sax<json> {
 public:
  json root;
  // What parse_error() was given: a syntax error, or a number out of range (1e400).
  std::optional<json::parse_error> syntax;
  std::optional<json::out_of_range> range;

  bool null() override { return put(json(nullptr)); }
  bool boolean(bool v) override { return put(json(v)); }
  bool number_integer(number_integer_t v) override { return put(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return put(json(v)); }
  bool string(string_t& v) override { return put(json(std::move(v))); }
  bool binary(binary_t& v) override { return put(json::binary(std::move(v))); }

  bool start_object(std::size_t) override { return open(json::object()); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool key(string_t& k) override {
    Open& top = open_.back();
    auto& entries = static_cast<Entries&>(top.value->get_ref<json::object_t&>());
    const auto [at, added] = top.index.try_emplace(k, entries.size());
    if (added) entries.emplace_back(std::move(k), nullptr);
    next_ = &entries[at->second].second;
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    if (const auto* p = dynamic_cast<const json::parse_error*>(&e)) syntax.emplace(*p);
    if (const auto* r = dynamic_cast<const json::out_of_range*>(&e)) range.emplace(*r);
    return false;
  }

 private:
  struct Open {
    json* value;
    std::unordered_map<std::string, std::size_t> index;  // an object's keys: their position
  };

  // Where the next value goes: the root, the end of the open array, or the key just read.
  json* place(json&& v) {
    if (open_.empty()) {
      root = std::move(v);
      return &root;
    }
    json& parent = *open_.back().value;
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    *next_ = std::move(v);
    return next_;
  }
  bool put(json&& v) {
    place(std::move(v));
    return true;
  }
  // A container stays where it is while it is open: its parent gets nothing else meanwhile.
  bool open(json&& empty) {
    open_.push_back(Open{place(std::move(empty)), {}});
    return true;
  }
  bool close() {
    open_.pop_back();
    return true;
  }

  std::vector<Open> open_;
  json* next_ = nullptr;
};

}  // namespace

json parse_ordered(std::string_view text) {
  Builder builder;
  const bool ok = json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json,
                                  /*strict=*/true, /*ignore_comments=*/true);
  if (builder.syntax) throw *builder.syntax;
  if (builder.range) throw *builder.range;
  if (!ok) throw json::parse_error::create(101, 0, "the JSON parser stopped", nullptr);
  return std::move(builder.root);
}

}  // namespace rl::config
