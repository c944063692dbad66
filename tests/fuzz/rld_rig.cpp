// The rig's parts and its client: the client socket is polled by the server's own loop, so
// neither side ever blocks the other (a client that stops reading would stall the server's
// writes, as it should) and nothing waits longer than the next event.
#include "fuzz/rld_rig.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <uv.h>

#include "config/tier_file.h"
#include "fuzz/check.h"
#include "http/server.h"
#include "obs/logger.h"
#include "obs/metrics.h"
#include "service/admin_api.h"
#include "service/decision_metrics.h"
#include "service/decision_service.h"
#include "service/health_service.h"
#include "service/http_api.h"
#include "service/settings.h"
#include "store/memory_directory.h"
#include "store/memory_store.h"

namespace rl::fuzz {
namespace {

// Every log line is one JSON object and a newline: operators ship them to log stores.
class CheckedSink final : public obs::LogSink {
 public:
  void write(std::string_view line) override {
    require(!line.empty() && line.back() == '\n', "a log line ends with a newline", line);
    const std::string_view text = line.substr(0, line.size() - 1);
    require(text.find('\n') == std::string_view::npos, "a log line is one line", line);
    require(nlohmann::json::accept(text), "a log line is valid JSON", line);
  }
};

// The server is made once; the handler it calls is the current exchange's.
class Forward final : public http::Handler {
 public:
  void handle(http::Exchange& exchange) override { target->handle(exchange); }
  void write_error(http::ResponseWriter& writer, int status, std::string_view reason) override {
    target->write_error(writer, status, reason);
  }
  http::Handler* target = nullptr;
};

config::DaemonConfig daemon_config() {
  config::DaemonConfig c;
  c.security.admin_key = std::string(RldRig::kAdminKey);
  c.security.max_invalid_attempts = 3;  // so that a short input reaches a block
  c.http.excluded_paths = {"/static/*", "/healthz"};
  for (const char* range : {"10.0.0.0/8", "2001:db8::/32"})
    c.http.trusted_proxies.push_back(*security::Cidr::parse(range));
  return c;
}

// One exchange's service: everything a request can change.
struct Service {
  Service(const config::TierFile& tiers, const core::Clock& clock, obs::LogSink& sink,
          std::shared_ptr<const service::ServiceSettings> settings)
      : log(sink, clock, obs::LogLevel::debug),
        store(clock, 16),  // few tracked clients: eviction is reachable too
        directory(clock),
        health(directory, clock, log, registry, core::Seconds{2}),
        metrics(registry),
        decisions(store, directory, health, clock, log, metrics),
        admin(directory, store, health, clock, log),
        api(decisions, admin, registry, clock, [] { return std::string(); }) {
    require(directory.load(tiers).ok(), "the reference tier file loads");
    decisions.set_settings(std::move(settings));
    health.refresh();
  }

  obs::Logger log;
  obs::Registry registry;
  store::MemoryStore store;
  store::MemoryDirectory directory;
  service::HealthService health;
  service::DecisionMetrics metrics;
  service::DecisionService decisions;
  service::AdminApi admin;
  service::HttpApi api;
};

config::TierFile reference_tiers() {
  auto file = config::load_tier_file(RL_FUZZ_TIER_FILE);
  require(file.ok(), "config/rate_limits.json loads", file.ok() ? "" : file.error().message);
  return std::move(*file);
}

std::string socket_dir() {
  char pattern[] = "/tmp/rl-fuzz-XXXXXX";
  require(mkdtemp(pattern) != nullptr, "a temp directory for the rig's socket");
  return pattern;
}

// The client side of an exchange, polled by the server's own loop: it writes the request
// bytes, then its EOF, and reads until the server closes.
struct Client {
  uv_poll_t poll{};
  int fd = -1;
  std::string_view out;
  std::size_t sent = 0;
  bool shut = false;
  std::string in;
  bool eof = false;

  void start(uv_loop_t* loop) {
    uv_poll_init(loop, &poll, fd);
    poll.data = this;
    step();
  }
  static void on_event(uv_poll_t* p, int, int) { static_cast<Client*>(p->data)->step(); }
  void step() {
    while (sent < out.size()) {
      const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        if (errno != EAGAIN && errno != EINTR) sent = out.size();  // the server closed
        break;
      }
      sent += static_cast<std::size_t>(n);
    }
    if (sent == out.size() && !shut) {
      ::shutdown(fd, SHUT_WR);
      shut = true;
    }
    char buffer[16384];
    for (;;) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        eof = n == 0 || (errno != EAGAIN && errno != EINTR);
        break;
      }
      in.append(buffer, static_cast<std::size_t>(n));
    }
    if (eof) {
      uv_poll_stop(&poll);
    } else {
      uv_poll_start(&poll, UV_READABLE | (sent < out.size() ? UV_WRITABLE : 0), on_event);
    }
  }
};

}  // namespace

struct RldRig::Impl {
  Impl()
      : clock(core::from_unix_ms(1'700'000'040'000)),
        log(sink, clock, obs::LogLevel::debug),
        server_metrics(registry),
        tiers(reference_tiers()),
        config(daemon_config()),
        settings(service::ServiceSettings::from(config, tiers.tiers)),
        dir(socket_dir()) {
    uv_loop_init(&loop);
    uv_timer_init(&loop, &deadline);
    http::ServerOptions options;
    options.limits = limits();
    server = std::make_unique<http::Server>(&loop, forward, clock, log, server_metrics, options);
    path = dir + "/rld.sock";
    const auto address = config::ListenAddress::parse("unix:" + path);
    const auto listening = server->listen({*address});
    require(listening.ok(), "the rig listens", listening.ok() ? "" : listening.error().message);
  }

  int connect_client() const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    require(fd >= 0, "a client socket");
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    require(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0,
            "the client connects");
    return fd;
  }

  core::ManualClock clock;
  CheckedSink sink;
  obs::Logger log;
  obs::Registry registry;
  http::ServerMetrics server_metrics;
  config::TierFile tiers;
  config::DaemonConfig config;
  std::shared_ptr<const service::ServiceSettings> settings;
  std::string dir;
  std::string path;
  uv_loop_t loop{};
  uv_timer_t deadline{};  // an exchange that takes longer is a hang
  Forward forward;
  std::unique_ptr<http::Server> server;
};

RldRig::RldRig() : impl_(std::make_unique<Impl>()) {}
RldRig::~RldRig() = default;

RldRig& RldRig::instance() {
  static RldRig* rig = [] {
    auto* r = new RldRig();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(instance().impl_->dir, ec);
    });
    return r;
  }();
  return *rig;
}

http::ParserLimits RldRig::limits() {
  return http::ParserLimits{512, 2048, 32, 4096};
}

std::string RldRig::exchange(std::string_view bytes) {
  Impl& m = *impl_;
  m.clock.set(core::from_unix_ms(1'700'000'040'000));
  Service service(m.tiers, m.clock, m.sink, m.settings);
  m.forward.target = &service.api;
  uv_timer_start(
      &m.deadline, [](uv_timer_t*) { violated("the server answers and closes within 4 s"); }, 4000,
      0);
  Client client;
  client.fd = m.connect_client();
  client.out = bytes;
  client.start(&m.loop);
  while (!client.eof)
    uv_run(&m.loop, UV_RUN_ONCE);
  uv_close(reinterpret_cast<uv_handle_t*>(&client.poll), nullptr);
  uv_run(&m.loop, UV_RUN_NOWAIT);
  ::close(client.fd);
  // The server notices the close, then retires and deletes the connection on the next turn.
  while (m.server->connection_count() > 0)
    uv_run(&m.loop, UV_RUN_ONCE);
  uv_run(&m.loop, UV_RUN_NOWAIT);
  uv_timer_stop(&m.deadline);
  m.forward.target = nullptr;
  return std::move(client.in);
}

}  // namespace rl::fuzz
