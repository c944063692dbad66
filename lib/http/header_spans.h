// HeaderSpans: header fields as llhttp hands them over — names and values in pieces — kept as
// offsets into the parser's own byte buffer (which may hold more, such as the request target),
// so the buffer can grow without leaving a dangling view, and no field costs an allocation.
// views() turns them into Headers once the head is complete. Shared by RequestParser and
// ResponseParser.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.h"
#include "http/request.h"

namespace rl::http {

class HeaderSpans {
 public:
  void reserve(std::size_t fields) { spans_.reserve(fields); }
  // Whether the next name piece begins a new field.
  bool starts_field() const { return spans_.empty() || in_value_; }
  std::size_t fields() const { return spans_.size(); }

  // A piece of a field name, then of its value, appended to `buffer`.
  void add_name(std::string& buffer, const char* at, std::size_t len) {
    if (starts_field()) {
      spans_.push_back(Span{buffer.size(), 0, 0, 0});
      in_value_ = false;
    }
    buffer.append(at, len);
    spans_.back().name_len += len;
  }
  void add_value(std::string& buffer, const char* at, std::size_t len) {
    if (!in_value_) {
      spans_.back().value_off = buffer.size();
      in_value_ = true;
    }
    buffer.append(at, len);
    spans_.back().value_len += len;
  }

  // Every field as views into `buffer`, values trimmed, in `out` (cleared first).
  void views(std::string_view buffer, std::vector<Header>& out) const {
    out.clear();
    for (const auto& s : spans_) {
      out.push_back(Header{buffer.substr(s.name_off, s.name_len),
                           core::trim(buffer.substr(s.value_off, s.value_len))});
    }
  }

  void clear() {
    spans_.clear();
    in_value_ = false;
  }

 private:
  struct Span {
    std::size_t name_off = 0, name_len = 0, value_off = 0, value_len = 0;
  };
  std::vector<Span> spans_;
  bool in_value_ = false;
};

}  // namespace rl::http
