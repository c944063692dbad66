// Segment-by-segment pattern matching over a small route table.
#include "http/router.h"

#include <algorithm>

namespace rl::http {

std::string_view method_name(Method method) {
  switch (method) {
    case Method::get:
      return "GET";
    case Method::head:
      return "HEAD";
    case Method::post:
      return "POST";
    case Method::put:
      return "PUT";
    case Method::patch:
      return "PATCH";
    case Method::del:
      return "DELETE";
    case Method::options:
      return "OPTIONS";
    case Method::other:
      break;
  }
  return "OTHER";
}

void Router::add(int route, std::vector<Method> methods, std::string_view pattern) {
  Entry e{route, std::move(methods), {}, {}};
  std::string_view rest = pattern.substr(1);
  while (true) {
    const auto slash = rest.find('/');
    e.segments.emplace_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  entries_.push_back(std::move(e));
  // Recompute the Allow list of every entry sharing this pattern.
  std::vector<Method> all;
  bool any = false;
  for (const auto& other : entries_) {
    if (other.segments != entries_.back().segments) continue;
    if (other.methods.empty()) any = true;
    all.insert(all.end(), other.methods.begin(), other.methods.end());
  }
  if (std::find(all.begin(), all.end(), Method::get) != all.end()) all.push_back(Method::head);
  std::string allow;
  if (!any) {
    for (Method m : {Method::get, Method::head, Method::post, Method::put, Method::patch,
                     Method::del, Method::options}) {
      if (std::find(all.begin(), all.end(), m) == all.end()) continue;
      if (!allow.empty()) allow.append(", ");
      allow.append(method_name(m));
    }
  }
  for (auto& other : entries_) {
    if (other.segments == entries_.back().segments) other.allow = allow;
  }
}

bool Router::match_segments(const Entry& e, std::string_view path,
                            std::array<std::string_view, kMaxParams>& params) {
  if (path.empty() || path.front() != '/') return false;
  std::string_view rest = path.substr(1);
  std::size_t param = 0;
  for (std::size_t i = 0; i < e.segments.size(); ++i) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    const std::string& want = e.segments[i];
    const bool last = i + 1 == e.segments.size();
    if (last && want.size() > 5 && want.front() == '{' && want.ends_with("...}")) {
      if (rest.empty() || param >= kMaxParams) return false;
      params[param] = rest;
      return true;
    }
    if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
      if (segment.empty() || param >= kMaxParams) return false;
      params[param++] = segment;
    } else if (segment != want) {
      return false;
    }
    if (last != (slash == std::string_view::npos)) return false;
    if (!last) rest = rest.substr(slash + 1);
  }
  return true;
}

Router::Match Router::match(Method method, std::string_view path) const {
  Match m;
  for (const auto& e : entries_) {
    std::array<std::string_view, kMaxParams> params{};
    if (!match_segments(e, path, params)) continue;
    m.path_known = true;
    m.allow = e.allow;
    const bool ok = e.methods.empty() ||
                    std::find(e.methods.begin(), e.methods.end(), method) != e.methods.end() ||
                    (method == Method::head &&
                     std::find(e.methods.begin(), e.methods.end(), Method::get) != e.methods.end());
    if (ok) {
      m.route = e.route;
      m.params = params;
      return m;
    }
  }
  return m;
}

}  // namespace rl::http
