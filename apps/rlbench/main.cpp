// rlbench: drives load at rld instances (`load`) and proves their tier, degraded, consistency,
// header and security behaviour exactly (`verify`). Exit codes: 0 success (verify: every
// scenario passed), 1 failure, 2 usage error.
#include <algorithm>
#include <csignal>
#include <fstream>
#include <iostream>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "apps/rlbench/load.h"
#include "apps/rlbench/report.h"
#include "apps/rlbench/verify.h"
#include "core/text.h"
#include "core/version.h"

namespace {

using namespace rl;
using namespace rl::rlbench;

constexpr int kFailure = 1;
constexpr int kUsage = 2;

struct Common {
  std::vector<std::string> targets;
  bool json = false;
};

// Parses every --target; prints the first bad one.
bool parse_targets(const std::vector<std::string>& texts, std::vector<http::Endpoint>& out) {
  for (const auto& t : texts) {
    auto e = http::Endpoint::parse(t);
    if (!e) {
      std::cerr << "rlbench: --target " << t << ": " << e.error().message << "\n";
      return false;
    }
    out.push_back(std::move(*e));
  }
  return true;
}

// One API key per line; blank lines and lines starting with '#' are skipped.
bool read_keys(const std::string& path, std::vector<std::string>& keys) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "rlbench: --keys-file " << path << ": cannot read it\n";
    return false;
  }
  for (std::string line; std::getline(in, line);) {
    const std::string key(core::trim(line));
    if (!key.empty() && key.front() != '#') keys.push_back(key);
  }
  if (keys.empty()) {
    std::cerr << "rlbench: --keys-file " << path << ": no keys in it (one per line)\n";
    return false;
  }
  return true;
}

int run_load_command(const Common& common, LoadOptions& o, double duration_s,
                     const std::string& key, const std::string& keys_file) {
  if (!parse_targets(common.targets, o.targets)) return kUsage;
  o.duration = std::chrono::milliseconds(static_cast<std::int64_t>(duration_s * 1000));
  if (!key.empty()) o.keys.push_back(key);
  if (!keys_file.empty() && !read_keys(keys_file, o.keys)) return kUsage;
  o.progress = isatty(STDERR_FILENO) != 0 && !common.json;
  uv_loop_t loop;
  uv_loop_init(&loop);
  const LoadReport report = run_load(&loop, o);
  uv_loop_close(&loop);
  if (common.json) {
    std::cout << to_json(report).dump() << "\n";
  } else {
    std::cout << to_text(report);
  }
  return report.requests > 0 ? 0 : kFailure;
}

// "a, b,c" → {"a", "b", "c"}; empty items are dropped.
std::vector<std::string> comma_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string item(core::trim(text.substr(0, comma)));
    if (!item.empty()) out.push_back(item);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
  }
  return out;
}

int run_verify_command(const Common& common, VerifyOptions& o, const std::string& scenarios,
                       const std::string& tiers) {
  if (!parse_targets(common.targets, o.targets)) return kUsage;
  if (!scenarios.empty()) {
    o.scenarios = comma_list(scenarios);
    for (const auto& s : o.scenarios) {
      if (std::find(kScenarios.begin(), kScenarios.end(), s) == kScenarios.end()) {
        std::cerr << "rlbench: --scenario " << s
                  << ": expected tiers, degraded, consistency, headers or security\n";
        return kUsage;
      }
    }
  }
  o.tiers = comma_list(tiers);
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto results = run_verify(&loop, o);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (!results) {
    std::cerr << "rlbench verify: " << results.error().message << "\n";
    return kFailure;
  }
  const auto doc = to_json(*results);
  if (common.json) {
    std::cout << doc.dump() << "\n";
  } else {
    std::cout << to_text(*results);
  }
  return doc["passed"].get<bool>() ? 0 : kFailure;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "rlbench — load tester and verifier for rld.\nTargets: http://HOST:PORT (an IP address or "
      "localhost) or unix:PATH; several are used round-robin.\nExit codes: 0 ok (verify: every "
      "scenario passed), 1 failure, 2 usage error.",
      "rlbench"};
  app.set_version_flag("--version", std::string("rlbench ") + core::kVersion);
  app.footer(
      "Examples:\n"
      "  rlbench load --target http://127.0.0.1:8000 --key demo_pro_key_789 --duration 10\n"
      "  rlbench load --target unix:/run/rld/rld.sock --keys-file keys.txt --rate 20000 "
      "--duration 30 --json\n"
      "  rlbench verify --target http://127.0.0.1:8000 --target http://127.0.0.1:8001 "
      "--admin-key \"$ADMIN_API_KEY\"\n"
      "Each subcommand has its own --help (rlbench load --help, rlbench verify --help).");
  app.require_subcommand(1);
  Common common;
  const auto add_common = [&common](CLI::App* cmd) {
    cmd->add_option("--target", common.targets, "rld to drive (repeat for several)")
        ->required()
        ->type_name("T");
    cmd->add_flag("--json", common.json, "Print one JSON document");
  };

  LoadOptions load;
  double duration_s = 0;
  std::string key, keys_file;
  CLI::App* load_cmd = app.add_subcommand("load", "Drive load and report throughput and latency");
  add_common(load_cmd);
  load_cmd->add_option("--concurrent", load.concurrent, "Connections (requests in flight)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  auto* how_long = load_cmd->add_option_group("length", "How long to run");
  how_long->add_option("--duration", duration_s, "Seconds to run")
      ->check(CLI::Range(0.001, 86400.0))
      ->type_name("S");
  how_long->add_option("--requests", load.requests, "Requests to send")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000'000'000}))
      ->type_name("N");
  how_long->require_option(1);
  load_cmd->add_option("--rate", load.rate, "Requests per second (open loop); default: closed loop")
      ->check(CLI::Range(0.001, 10'000'000.0))
      ->type_name("R");
  auto* keys = load_cmd->add_option_group("keys", "API keys");
  keys->add_option("--key", key, "API key sent as X-API-Key")->type_name("K");
  keys->add_option("--keys-file", keys_file, "File with one API key per line, used in turn")
      ->type_name("F");
  keys->require_option(0, 1);
  load_cmd->add_option("--path", load.path, "Request path")->capture_default_str();
  load_cmd->add_option("--method", load.method, "Request method")
      ->capture_default_str()
      ->check(CLI::IsMember({"GET", "POST", "PUT", "DELETE", "PATCH"}));

  VerifyOptions verify;
  std::string scenarios, tiers;
  CLI::App* verify_cmd =
      app.add_subcommand("verify", "Prove tiers, degraded mode, consistency, headers, security");
  add_common(verify_cmd);
  verify_cmd->add_option("--admin-key", verify.admin_key, "Admin API key (or ADMIN_API_KEY)")
      ->envname("ADMIN_API_KEY")
      ->required()
      ->type_name("K");
  verify_cmd
      ->add_option("--scenario", scenarios,
                   "Comma-separated: tiers,degraded,consistency,headers,security (all)")
      ->type_name("NAME,...");
  verify_cmd->add_option("--tiers", tiers, "Comma-separated tiers to check (default: all)")
      ->type_name("TIER,...");

  if (argc > 1 && argv[1][0] != '-' && std::string_view(argv[1]) != "load" &&
      std::string_view(argv[1]) != "verify") {
    std::cerr << "rlbench: unknown command '" << argv[1]
              << "' (expected load or verify)\nRun 'rlbench --help'.\n";
    return kUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kUsage;
  }
  if (load_cmd->parsed()) return run_load_command(common, load, duration_s, key, keys_file);
  return run_verify_command(common, verify, scenarios, tiers);
}
