// Reading a tier's fields from JSON, with a message per field for every problem.
#include "config/tier_json.h"

#include <set>

namespace rl::config {
namespace {

using json = nlohmann::ordered_json;

std::string shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

class FieldReader {
 public:
  FieldReader(const json& object, std::vector<policy::FieldProblem>& problems)
      : object_(object), problems_(problems) {}

  void expected(const std::string& field, const std::string& what) {
    const auto it = object_.find(field);
    problems_.push_back(
        {field, "expected " + what + (it == object_.end() ? " (missing)" : ", got " + shown(*it))});
  }

  void count(const char* field, std::int64_t& out) {
    const auto it = object_.find(field);
    if (it == object_.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0) {
      return expected(field, "a non-negative integer");
    }
    out = it->get<std::int64_t>();
  }

  void window(core::Seconds& out) {
    const bool seconds = object_.contains("window_seconds");
    const bool minutes = object_.contains("window_minutes");
    if (seconds && minutes) {
      problems_.push_back({"window_seconds", "give window_seconds or window_minutes, not both"});
      return;
    }
    if (!seconds && !minutes) return;  // the default window
    const char* field = seconds ? "window_seconds" : "window_minutes";
    const std::int64_t unit = seconds ? 1 : 60;
    const json& v = object_.at(field);
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 ||
        v.get<std::int64_t>() > limiter::kMaxWindowSeconds / unit) {
      return expected(
          field, "a whole number from 1 to " + std::to_string(limiter::kMaxWindowSeconds / unit));
    }
    out = core::Seconds{v.get<std::int64_t>() * unit};
  }

  void algorithm(limiter::Algorithm& out) {
    const auto it = object_.find("algorithm");
    if (it == object_.end()) return;
    const auto a =
        it->is_string() ? limiter::parse_algorithm(it->get<std::string>()) : std::nullopt;
    if (!a)
      return expected("algorithm", "\"sliding_window\", \"fixed_window\" or \"token_bucket\"");
    out = *a;
  }

  void on_failure(std::optional<policy::FailurePolicy>& out) {
    const auto it = object_.find("on_failure");
    if (it == object_.end() || it->is_null()) return;
    const auto p =
        it->is_string() ? policy::parse_failure_policy(it->get<std::string>()) : std::nullopt;
    if (!p) return expected("on_failure", "\"local\", \"allow\" or \"deny\"");
    out = *p;
  }

  void shadow(bool& out) {
    const auto it = object_.find("shadow");
    if (it == object_.end()) return;
    if (!it->is_boolean()) return expected("shadow", "true or false");
    out = it->get<bool>();
  }

  void unknown_fields() {
    static const std::set<std::string, std::less<>> kKnown = {
        "name",           "base_limit", "burst_limit", "degraded_limit", "window_seconds",
        "window_minutes", "algorithm",  "shadow",      "on_failure"};
    for (const auto& [field, unused] : object_.items()) {
      if (!kKnown.contains(field)) problems_.push_back({field, "unknown field"});
    }
  }

 private:
  const json& object_;
  std::vector<policy::FieldProblem>& problems_;
};

}  // namespace

std::vector<policy::FieldProblem> read_tier_fields(const json& object, policy::Tier& tier) {
  std::vector<policy::FieldProblem> problems;
  if (!object.is_object()) {
    problems.push_back({"", "expected an object of tier fields, got " + shown(object)});
    return problems;
  }
  FieldReader r(object, problems);
  r.count("base_limit", tier.base_limit);
  r.count("burst_limit", tier.burst_limit);
  r.count("degraded_limit", tier.degraded_limit);
  r.window(tier.window);
  r.algorithm(tier.algorithm);
  r.shadow(tier.shadow);
  r.on_failure(tier.on_failure);
  r.unknown_fields();
  if (problems.empty()) problems = policy::validate(tier);
  return problems;
}

}  // namespace rl::config
