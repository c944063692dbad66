// Connecting to Redis from the command line, and mapping errors to exit codes.
#include "apps/rlctl/context.h"

#include <cstdlib>
#include <iostream>

#include "config/redis_url.h"
#include "core/text.h"

namespace rl::rlctl {
namespace {

constexpr core::Millis kConnectTimeout{2000};
constexpr core::Millis kCommandTimeout{5000};

// The server answered the handshake with an error (a wrong password, say): no use waiting.
bool handshake_refused(const redis::Commands& client) {
  return client.last_error().starts_with("handshake refused");
}

}  // namespace

int exit_code_of(const core::Error& error) {
  switch (error.code) {
    case core::Errc::not_found:
      return kNotFound;
    case core::Errc::conflict:
      return kConflict;
    case core::Errc::unavailable:
    case core::Errc::timeout:
      return kUnreachable;
    case core::Errc::invalid_argument:
      return kUsage;
    case core::Errc::io:
    case core::Errc::internal:
    case core::Errc::overloaded:
      return kFailure;
  }
  return kFailure;
}

bool is_valid_prefix(std::string_view prefix) {
  return !prefix.empty() && prefix.size() <= 32 &&
         prefix.find_first_of(" {}\t\r\n*?[]") == std::string_view::npos;
}

namespace {

// REDIS_PASSWORD fills in the password of a URL that has none (so that it need not appear on a
// command line, where `ps` shows it). A URL that does not parse is returned as it is, for the
// caller's own error.
std::string with_env_password(std::string url) {
  const char* password = std::getenv("REDIS_PASSWORD");
  if (password == nullptr || *password == '\0') return url;
  auto parsed = config::RedisUrl::parse(url);
  if (!parsed || !parsed->password.empty()) return url;
  parsed->password = password;
  return parsed->to_string();
}

}  // namespace

core::Result<std::string> resolve_redis_url(const std::string& flag) {
  if (!flag.empty()) return with_env_password(flag);
  if (const char* url = std::getenv("REDIS_URL"); url != nullptr && *url != '\0')
    return with_env_password(url);
  config::RedisUrl u;
  if (const char* host = std::getenv("REDIS_HOST"); host != nullptr && *host != '\0') u.host = host;
  if (const char* port = std::getenv("REDIS_PORT"); port != nullptr && *port != '\0') {
    const auto p = core::parse_int64(port);
    if (!p || *p < 1 || *p > 65535) {
      return core::make_error(core::Errc::invalid_argument,
                              "REDIS_PORT: expected an integer from 1 to 65535");
    }
    u.port = static_cast<std::uint16_t>(*p);
  }
  if (const char* db = std::getenv("REDIS_DB"); db != nullptr && *db != '\0') {
    const auto d = core::parse_int64(db);
    if (!d || *d < 0 || *d > 65535) {
      return core::make_error(core::Errc::invalid_argument, "REDIS_DB: expected an integer");
    }
    u.db = static_cast<int>(*d);
  }
  return with_env_password(u.to_string());
}

Context::Context(GlobalOptions options)
    : options_(std::move(options)),
      out_(options_.json, options_.quiet),
      log_(sink_, clock_, obs::LogLevel::error) {
  uv_loop_init(&loop_);
}

Context::~Context() {
  if (client_) {
    bool closed = false;
    client_->close([&closed] { closed = true; });
    while (!closed && uv_run(&loop_, UV_RUN_ONCE) != 0) {
    }
  }
  store_.reset();
  directory_.reset();
  client_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

int Context::connect() {
  if (client_ && client_->ready()) return kOk;
  auto url_text = resolve_redis_url(options_.redis_url);
  if (!url_text) return fail(url_text.error());
  auto url = config::RedisUrl::parse(*url_text);
  if (!url) {
    std::cerr << "rlctl: --redis: " << url.error().message << "\n";
    return kUsage;
  }
  build(*url);
  client_->start();
  if (!wait_until_ready()) {
    std::cerr << "rlctl: cannot reach Redis at " << url->redacted();
    if (handshake_refused(*client_) || (url->cluster && !client_->last_error().empty())) {
      std::cerr << ": " << client_->last_error() << "\n";
    } else {
      std::cerr << " within " << kConnectTimeout.count() / 1000 << " s\n";
    }
    return kUnreachable;
  }
  return writes_ ? mark_set_up() : kOk;
}

void Context::build(const config::RedisUrl& url) {
  redis::ConnectionOptions o;
  o.url = url;
  o.timeout = kCommandTimeout;
  o.connect_timeout = kConnectTimeout;
  o.stall_timeout = kCommandTimeout;
  o.backoff_max = core::Millis{200};
  client_metrics_ = std::make_unique<redis::ClientMetrics>(metrics_);
  store_metrics_ = std::make_unique<store::RedisStoreMetrics>(metrics_);
  breaker_ = std::make_unique<breaker::CircuitBreaker>(
      clock_, breaker::Options{1000000, core::Millis{1}, 1000000});
  unused_local_ = std::make_unique<store::MemoryStore>(clock_, 100);
  // One connection (to each master of a cluster): rlctl sends one operation at a time.
  client_ = redis::make_commands(&loop_, o, 1, log_, *client_metrics_, metrics_);
  store::KeySpace keys(options_.prefix);
  directory_ = std::make_unique<store::RedisDirectory>(*client_, keys, clock_, *breaker_, log_,
                                                       store::RedisDirectoryOptions{});
  // deny: rlctl never applies a failure policy, so every Redis error reaches the user.
  store_ = std::make_unique<store::RedisStore>(
      *client_, keys, clock_, *breaker_, *unused_local_, log_, *store_metrics_,
      store::RedisStoreOptions{policy::FailurePolicy::deny, 100});
}

bool Context::wait_until_ready() {
  uv_timer_t deadline{};
  bool expired = false;
  uv_timer_init(&loop_, &deadline);
  deadline.data = &expired;
  uv_timer_start(
      &deadline, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; },
      static_cast<std::uint64_t>(kConnectTimeout.count()), 0);
  while (!client_->ready() && !expired && !handshake_refused(*client_) &&
         uv_run(&loop_, UV_RUN_ONCE) != 0) {
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&deadline), nullptr);
  uv_run(&loop_, UV_RUN_NOWAIT);
  return client_->ready();
}

int Context::mark_set_up() {
  const std::string schema = store::KeySpace(options_.prefix).schema();
  auto marked = wait<redis::ReplyPtr>([&](auto done) {
    client_->command({"SET", schema, "1", "NX"}, std::move(done));
  });
  if (!marked) return fail(marked.error());
  return kOk;
}

core::Status Context::wait_status(std::function<void(store::StatusCallback)> start) {
  std::optional<core::Status> result;
  start([&result](core::Status s) { result.emplace(std::move(s)); });
  while (!result && uv_run(&loop_, UV_RUN_ONCE) != 0) {
  }
  if (!result) return core::make_error(core::Errc::internal, "the operation never completed");
  return std::move(*result);
}

int Context::fail(const core::Error& error) {
  std::cerr << "rlctl: " << error.message << "\n";
  return exit_code_of(error);
}

}  // namespace rl::rlctl
