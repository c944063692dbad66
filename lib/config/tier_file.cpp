// Reading and validating the tier file with nlohmann/json; every problem is reported at once
// as "<file>: <json path>: expected ..., got ...". A clear-text key never appears in a message.
#include "config/tier_file.h"

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "config/internal.h"
#include "config/ordered_parse.h"
#include "config/tier_json.h"
#include "security/api_key.h"

namespace rl::config {
namespace {

// ordered_json keeps the file's order, so "entry N" in a message is the N-th entry of the file.
using json = nlohmann::ordered_json;

// nlohmann's parse errors quote the text around the error ("last read: '...'"), which may be
// an API key. Keep the position and the expectation, drop the quote.
std::string describe_parse_error(const json::parse_error& e) {
  std::string what = e.what();
  const auto quote = what.find("; last read: ");
  if (quote == std::string::npos) return what;
  const auto expected = what.rfind("; expected ");
  std::string out = what.substr(0, quote);
  if (expected != std::string::npos && expected > quote) out += what.substr(expected);
  return out;
}

std::string shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

class TierFileParser {
 public:
  TierFileParser(std::string source) : source_(std::move(source)) { out_.source = source_; }

  core::Result<TierFile> parse(std::string_view text) {
    json root;
    try {
      root = parse_ordered(text);
    } catch (const json::parse_error& e) {
      return fail({source_ + ": invalid JSON: " + describe_parse_error(e)});
    } catch (const json::exception& e) {  // e.g. a number too large to represent (1e400)
      return fail({source_ + ": invalid JSON: a number cannot be represented (" +
                   std::to_string(e.id) + ")"});
    }
    if (!root.is_object()) return fail({source_ + ": expected a JSON object at the top level"});
    for (const auto& [key, value] : root.items()) {
      if (key == "tiers") {
        read_tiers(value);
      } else if (key == "users") {
        read_users(value);
      } else if (key == "api_keys") {
        read_keys(value);
      } else if (key != "redis") {  // the reference's connection settings: see [redis] in rld.toml
        problem(key, "one of \"tiers\", \"users\", \"api_keys\", \"redis\" (unknown key)");
      }
    }
    cross_check();
    if (!problems_.empty()) return fail(problems_);
    return std::move(out_);
  }

 private:
  static core::Error fail(const std::vector<std::string>& problems) {
    return problems_error(problems);
  }

  void problem(const std::string& path, const std::string& expected) {
    problems_.push_back(source_ + ": " + path + ": expected " + expected);
  }
  void problem(const std::string& path, const std::string& expected, const json& got) {
    problems_.push_back(source_ + ": " + path + ": expected " + expected + ", got " + shown(got));
  }

  void read_tier(const std::string& name, const json& value) {
    policy::Tier tier;
    tier.name = name;
    const auto problems = read_tier_fields(value, tier);
    for (const auto& p : problems) {
      problems_.push_back(source_ + ": tiers." + name + (p.field.empty() ? "" : ".") + p.field +
                          ": " + p.message);
    }
    if (problems.empty()) out_.tiers.push_back(std::move(tier));
  }

  void read_tiers(const json& tiers) {
    if (!tiers.is_object()) return problem("tiers", "an object of tier name → limits", tiers);
    for (const auto& [name, value] : tiers.items())
      read_tier(name, value);
  }

  void read_users(const json& users) {
    if (!users.is_object()) return problem("users", "an object of user id → tier", users);
    for (const auto& [id, value] : users.items()) {
      const std::string path = "users." + id;
      if (!policy::is_valid_user_id(id)) {
        problem(path, "a user id of 1-128 characters of [A-Za-z0-9_.@-]");
        continue;
      }
      TierFileUser user{id, "", false};
      if (value.is_string()) {
        user.tier = value.get<std::string>();
      } else if (value.is_object() && value.contains("tier") && value.at("tier").is_string()) {
        user.tier = value.at("tier").get<std::string>();
        if (value.contains("disabled")) {
          if (!value.at("disabled").is_boolean()) {
            problem(path + ".disabled", "true or false", value.at("disabled"));
            continue;
          }
          user.disabled = value.at("disabled").get<bool>();
        }
      } else {
        problem(path, "a tier name, or an object {\"tier\": ..., \"disabled\": ...}", value);
        continue;
      }
      out_.users.push_back(std::move(user));
    }
  }

  void read_keys(const json& keys) {
    // The value is not shown: it may hold keys.
    if (!keys.is_object()) return problem("api_keys", "an object of API key → user id");
    std::size_t index = 0;
    for (const auto& [key, value] : keys.items()) {
      ++index;
      // Never echo a clear-text key: name the entry by position and user instead.
      const std::string path = "api_keys (entry " + std::to_string(index) + ")";
      if (!value.is_string()) {
        problem(path, "a user id as the value", value);
        continue;
      }
      TierFileKey entry{"", value.get<std::string>()};
      if (key.starts_with("sha256:")) {
        entry.digest = key.substr(7);
        if (!security::is_key_digest(entry.digest)) {
          problem(path + " for user " + entry.user,
                  "\"sha256:\" followed by 64 lower-case hex digits");
          continue;
        }
      } else if (!security::is_well_formed_api_key(key)) {
        problem(path + " for user " + entry.user,
                "a key of 8-256 characters of [A-Za-z0-9_.-] (generated rl_ keys with a valid "
                "checksum), or \"sha256:<hex digest>\"");
        continue;
      } else {
        entry.digest = std::string(security::digest_api_key(key).view());
      }
      out_.keys.push_back(std::move(entry));
      key_entries_.push_back(index);
    }
  }

  void cross_check() {
    std::set<std::string, std::less<>> tiers, users, digests;
    for (const auto& t : out_.tiers)
      tiers.insert(t.name);
    for (const auto& u : out_.users) {
      users.insert(u.id);
      if (!tiers.contains(u.tier)) {
        problem("users." + u.id,
                "the name of a tier defined under \"tiers\", got \"" + u.tier + "\"");
      }
    }
    for (std::size_t i = 0; i < out_.keys.size(); ++i) {
      const TierFileKey& k = out_.keys[i];
      const std::size_t index = key_entries_[i];
      if (!users.contains(k.user)) {
        problem("api_keys (entry " + std::to_string(index) + ")",
                "the id of a user defined under \"users\", got \"" + k.user + "\"");
      }
      if (!digests.insert(k.digest).second) {
        problem("api_keys (entry " + std::to_string(index) + ")", "each key only once");
      }
    }
  }

  std::string source_;
  TierFile out_;
  std::vector<std::size_t> key_entries_;  // position in the file of each of out_.keys
  std::vector<std::string> problems_;
};

}  // namespace

core::Result<TierFile> parse_tier_file(std::string_view json_text, const std::string& source) {
  return TierFileParser(source).parse(json_text);
}

core::Result<TierFile> load_tier_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return core::make_error(core::Errc::not_found, path + ": cannot open the tier file");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return core::make_error(core::Errc::io, path + ": cannot read the tier file");
  return parse_tier_file(text.str(), path);
}

}  // namespace rl::config
