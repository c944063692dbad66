// Output: how rlctl answers — an aligned table or "key: value" lines for people (never any
// colour: the output is meant to be piped as much as read), one stable JSON document per command
// with --json, and nothing but the essential with --quiet.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace rl::rlctl {

class Output {
 public:
  Output(bool json, bool quiet) : json_(json), quiet_(quiet) {}

  bool json() const { return json_; }
  bool quiet() const { return quiet_; }

  void table(const std::vector<std::string>& headers,
             const std::vector<std::vector<std::string>>& rows) const;
  void fields(const std::vector<std::pair<std::string, std::string>>& pairs) const;
  void document(const nlohmann::json& value) const;
  // A line for people (not in --json or --quiet mode).
  void message(std::string_view text) const;
  // A line that is the command's result (printed in --quiet mode too, not in --json mode).
  void result(std::string_view text) const;

 private:
  bool json_;
  bool quiet_;
};

}  // namespace rl::rlctl
