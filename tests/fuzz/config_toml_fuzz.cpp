// Fuzz harness of the rld.toml loader: the bytes are a configuration file, loaded through the
// real entry point (load_daemon_config, which reads a path: the bytes go into a memfd, read as
// /proc/self/fd/N). Comment lines "#!env NAME=VALUE" and "#!flag NAME=VALUE" in the file set
// the environment and command-line overrides of that load (NAME: listen, store, redis, tiers,
// workers, admin-key, log-level), so the three layers are fuzzed together. A configuration
// the loader accepts must be one rld can run, and build its service settings; one it refuses
// must say why.
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <unistd.h>

#include "config/loader.h"
#include "config/redis_url.h"
#include "fuzz/check.h"
#include "service/settings.h"

namespace {

using namespace rl;

// The environment and flags the file's directive comments set.
void read_directives(std::string_view text, config::Environment& env, config::Overrides& o) {
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool is_env = line.starts_with("#!env "), is_flag = line.starts_with("#!flag ");
    if (!is_env && !is_flag) continue;
    line.remove_prefix(is_env ? 6 : 7);
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string name(line.substr(0, eq)), value(line.substr(eq + 1));
    if (is_env) {
      env[name] = value;
    } else if (name == "listen") {
      o.listen.push_back(value);
    } else if (name == "store") {
      o.store = value;
    } else if (name == "redis") {
      o.redis_url = value;
    } else if (name == "tiers") {
      o.tiers_file = value;
    } else if (name == "workers") {
      o.workers = static_cast<int>(std::strtol(value.c_str(), nullptr, 10) % 1000);
    } else if (name == "admin-key") {
      o.admin_key = value;
    } else if (name == "log-level") {
      o.log_level = value;
    }
  }
}

int config_file() {
  static const int fd = [] {
    const int f = memfd_create("rld.toml", MFD_CLOEXEC);
    fuzz::require(f >= 0, "a memfd for the configuration");
    return f;
  }();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const int fd = config_file();
  fuzz::require(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == static_cast<ssize_t>(size),
                "the configuration is written to the memfd");
  config::Environment env;
  config::Overrides overrides;
  read_directives(text, env, overrides);

  const auto loaded =
      config::load_daemon_config("/proc/self/fd/" + std::to_string(fd), env, overrides);
  if (!loaded) {
    fuzz::require(!loaded.error().message.empty(), "a refused configuration says why", text);
    return 0;
  }
  const config::DaemonConfig& c = *loaded;
  fuzz::require(!c.server.listen.empty(), "an accepted configuration listens somewhere", text);
  fuzz::require(c.server.workers >= 1 && c.server.workers <= config::kMaxWorkers,
                "an accepted configuration has 1 to kMaxWorkers workers", text);
  fuzz::require(config::RedisUrl::parse(c.redis.url).ok(), "an accepted Redis URL parses", text);
  for (const auto& address : c.server.listen) {
    const auto again = config::ListenAddress::parse(address.to_string());
    fuzz::require(again.ok() && *again == address, "a listen address reads back the same",
                  address.to_string());
  }
  const auto settings = service::ServiceSettings::from(c);
  fuzz::require(settings != nullptr, "an accepted configuration makes service settings");
  (void)settings->is_excluded("/static/x");
  return 0;
}
