// Router: maps (method, path) to a route id from a table of patterns such as
// "/admin/users/{id}/keys" ({name} matches one non-empty segment; a last {name...} matches the
// non-empty rest of the path, slashes and all). Distinguishes "no such path"
// (404) from "path exists, method not allowed" (405, with the Allow list). HEAD is accepted
// wherever GET is. Pure and allocation-free per match.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"

namespace rl::http {

class Router {
 public:
  static constexpr std::size_t kMaxParams = 2;

  struct Match {
    int route = -1;           // >= 0 when found
    bool path_known = false;  // some route has this path (so a miss is a 405, not a 404)
    std::string_view allow;   // for 405: the methods the path accepts
    std::array<std::string_view, kMaxParams> params{};
  };

  // `methods`: any of "GET", "POST", ... ("*" for every method).
  void add(int route, std::vector<Method> methods, std::string_view pattern);
  Match match(Method method, std::string_view path) const;

 private:
  struct Entry {
    int route;
    std::vector<Method> methods;  // empty: any
    std::vector<std::string> segments;
    std::string allow;  // all methods of every entry with the same pattern
  };
  static bool match_segments(const Entry& e, std::string_view path,
                             std::array<std::string_view, kMaxParams>& params);
  std::vector<Entry> entries_;
};

std::string_view method_name(Method method);

}  // namespace rl::http
