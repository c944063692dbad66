// Tests of config/loader.h error reporting: one fixture file per mistake; each message names
// the file (and line where the TOML node is known), the dotted key and what was expected.
#include <string>

#include <doctest/doctest.h>

#include "config/loader.h"
#include "support/common.h"
#include "unit/config/fixtures.h"

using rl::config::load_daemon_config;
using rl::config::Overrides;

namespace {

using rl::test::kConfigFixtures;

std::string error_of(const std::string& file, const rl::config::Environment& env = {},
                     const Overrides& overrides = {}) {
  auto result = load_daemon_config(file.empty() ? "" : kConfigFixtures + file, env, overrides);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == rl::core::Errc::invalid_argument);
  return result.error().message;
}

using rl::test::has;

int lines(const std::string& text) {
  int n = 1;
  for (char c : text)
    n += c == '\n';
  return n;
}

}  // namespace

TEST_CASE("an unknown key is reported with file, line and dotted key") {
  const std::string e = error_of("err_unknown_key.toml");
  CHECK_MESSAGE(has(e, kConfigFixtures + "err_unknown_key.toml:3: http.max_body_byte: unknown key"),
                e);
  CHECK(lines(e) == 1);
}

TEST_CASE("a value of the wrong type is reported with what was expected and what was given") {
  const std::string e = error_of("err_wrong_type.toml");
  CHECK_MESSAGE(
      has(e, kConfigFixtures + "err_wrong_type.toml:3: server.workers: expected an integer "
                               "from 0 to 256, got \"one\""),
      e);
}

TEST_CASE("an integer out of range is reported with its bounds") {
  const std::string e = error_of("err_out_of_range.toml");
  CHECK_MESSAGE(has(e, kConfigFixtures + "err_out_of_range.toml:3: security.max_invalid_attempts: "
                                         "expected an integer from 1 to 1000000, got 0"),
                e);
}

TEST_CASE("a bad listen address names the file, the key and the accepted forms") {
  const std::string e = error_of("err_bad_listen.toml");
  CHECK_MESSAGE(has(e, kConfigFixtures + "err_bad_listen.toml"), e);
  CHECK_MESSAGE(has(e, "server.listen"), e);
  CHECK_MESSAGE(has(e, "HOST:PORT"), e);
  CHECK_MESSAGE(has(e, "127.0.0.1:70000"), e);
  CHECK_MESSAGE(has(e, "port must be 0-65535"), e);
}

TEST_CASE("a bad listen address names the line of the listen key") {
  // loader.h promises "file and line" wherever the TOML node is known, as it is here.
  const std::string e = error_of("err_bad_listen.toml");
  CHECK_MESSAGE(has(e, "err_bad_listen.toml:3: server.listen"), e);
}

TEST_CASE("a listen value that is not an array is reported with its line") {
  const std::string e = error_of("err_listen_not_array.toml");
  CHECK_MESSAGE(has(e, "err_listen_not_array.toml:3: server.listen: expected an array of strings"),
                e);
}

TEST_CASE("a bad CIDR in trusted_proxies is reported with the value given") {
  const std::string e = error_of("err_bad_cidr.toml");
  CHECK_MESSAGE(has(e, kConfigFixtures + "err_bad_cidr.toml"), e);
  CHECK_MESSAGE(has(e, "http.trusted_proxies: expected IP addresses or CIDR ranges"), e);
  CHECK_MESSAGE(has(e, "\"10.0.0.0/33\""), e);
}

TEST_CASE("a bad admin network is reported with file, line, key and each value given") {
  const std::string e = error_of("err_bad_admin_network.toml");
  CHECK_MESSAGE(has(e, kConfigFixtures + "err_bad_admin_network.toml:3: security.admin_networks: "
                                         "expected IP addresses or CIDR ranges such as "
                                         "\"127.0.0.0/8\", got \"localhost\""),
                e);
  CHECK_MESSAGE(has(e, "got \"::1/129\""), e);
  CHECK(lines(e) == 2);
}

TEST_CASE("admin_networks must be a list") {
  const std::string e = error_of("err_admin_networks_not_list.toml");
  CHECK_MESSAGE(
      has(e, kConfigFixtures + "err_admin_networks_not_list.toml:3: security.admin_networks: "
                               "expected an array of strings"),
      e);
}

TEST_CASE("a unix_socket_mode that is not octal is reported with an example") {
  const std::string e = error_of("err_bad_socket_mode.toml");
  CHECK_MESSAGE(has(e, kConfigFixtures + "err_bad_socket_mode.toml:3: server.unix_socket_mode: "
                                         "expected an octal file mode such as \"0660\""),
                e);
}

TEST_CASE("a unix_socket_mode with a sign is not an octal file mode") {
  auto result = load_daemon_config(kConfigFixtures + "err_socket_mode_signed.toml", {}, {});
  CHECK_FALSE(result.ok());
  if (!result.ok()) CHECK(has(result.error().message, "server.unix_socket_mode"));
}

TEST_CASE("a unix_socket_group this host does not have is reported by name") {
  const std::string e = error_of("err_unknown_socket_group.toml");
  CHECK_MESSAGE(
      has(e, kConfigFixtures + "err_unknown_socket_group.toml:3: server.unix_socket_group: "
                               "expected an existing group name or number (no group "
                               "\"no-such-group-rl\" on this host)"),
      e);
}

TEST_CASE("an unknown log level is reported with the accepted levels") {
  const std::string e = error_of("err_bad_log_level.toml");
  CHECK_MESSAGE(has(e, kConfigFixtures + "err_bad_log_level.toml:3: log.level: expected one of "
                                         "\"debug\", \"info\", \"warn\", \"error\""),
                e);
}

TEST_CASE("an unknown store type is reported with the accepted types") {
  const std::string e = error_of("err_bad_store_type.toml");
  CHECK_MESSAGE(
      has(e, kConfigFixtures +
                 "err_bad_store_type.toml:3: store.type: expected \"memory\" or \"redis\""),
      e);
}

TEST_CASE("invalid TOML syntax is reported with file, line and column") {
  const std::string e = error_of("err_syntax.toml");
  CHECK_MESSAGE(has(e, kConfigFixtures + "err_syntax.toml:2:"), e);
  CHECK_MESSAGE(has(e, "invalid TOML"), e);
}

TEST_CASE("a missing config file is reported with its path") {
  const std::string e = error_of("does_not_exist.toml");
  CHECK_MESSAGE(has(e, kConfigFixtures + "does_not_exist.toml"), e);
  CHECK_MESSAGE(has(e, "no such file"), e);
}

TEST_CASE("several problems in one file are all reported, one per line") {
  const std::string e = error_of("err_several.toml");
  CHECK_MESSAGE(lines(e) == 3, e);
  CHECK_MESSAGE(has(e, "err_several.toml:3: server.max_connections: expected an integer from 1"),
                e);
  CHECK_MESSAGE(has(e,
                    "err_several.toml:6: redis.on_failure: expected \"local\", \"allow\" or "
                    "\"deny\""),
                e);
  CHECK_MESSAGE(has(e, "err_several.toml:9: log.colour: unknown key"), e);
}

TEST_CASE("problems from the file, the environment and the flags are reported together") {
  Overrides o;
  o.log_level = "loud";
  const std::string e = error_of("err_unknown_key.toml", {{"LOG_LEVEL", "chatty"}}, o);
  CHECK_MESSAGE(lines(e) == 3, e);
  CHECK(has(e, "http.max_body_byte: unknown key"));
  CHECK(has(e, "environment LOG_LEVEL: expected one of debug, info, warn, error, got \"chatty\""));
  CHECK(has(e, "--log-level: expected one of debug, info, warn, error, got \"loud\""));
}

TEST_CASE("a bad REDIS_PORT and a bad REDIS_DB are both reported") {
  const std::string e = error_of("", {{"REDIS_PORT", "http"}, {"REDIS_DB", "x9"}});
  CHECK_MESSAGE(has(e, "environment REDIS_PORT: expected an integer from 1 to 65535, got \"http\""),
                e);
  CHECK_MESSAGE(has(e, "environment REDIS_DB: expected an integer from 0 to 65535, got \"x9\""), e);
}

TEST_CASE("a REDIS_TIMEOUT that is not a number of seconds is refused") {
  CHECK(has(error_of("", {{"REDIS_TIMEOUT", "5ms"}}),
            "environment REDIS_TIMEOUT: expected seconds from 0.001 to 60, got \"5ms\""));
  CHECK(has(error_of("", {{"REDIS_TIMEOUT", "0"}}), "environment REDIS_TIMEOUT"));
  CHECK(has(error_of("", {{"REDIS_TIMEOUT", "nan"}}), "environment REDIS_TIMEOUT"));
}

TEST_CASE("a bad --listen address is reported under the flag's name") {
  Overrides o;
  o.listen = {"127.0.0.1:8000", "nowhere"};
  const std::string e = error_of("", {}, o);
  CHECK_MESSAGE(has(e, "--listen: expected HOST:PORT, [IPv6]:PORT or unix:PATH, got 'nowhere'"), e);
}

TEST_CASE("the same listen address twice is refused") {
  Overrides o;
  o.listen = {"127.0.0.1:8000", "127.0.0.1:8000"};
  CHECK(has(error_of("", {}, o), "server.listen: 127.0.0.1:8000 is listed twice"));
}

TEST_CASE("workers: 0 means one per core; out of range is refused") {
  Overrides o;
  o.workers = 0;
  auto c = load_daemon_config("", {}, o);
  REQUIRE(c);
  CHECK(c->server.workers >= 1);
  o.workers = 4;
  c = load_daemon_config("", {}, o);
  REQUIRE(c);
  CHECK(c->server.workers == 4);
  o.workers = 300;
  CHECK(has(error_of("", {}, o), "server.workers: expected 0 (one per core) to 256, got 300"));
}
