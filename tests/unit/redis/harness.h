// Harness for the Redis client tests: a private libuv loop, a FakeRedis on it, the logger and
// metrics a Client needs, and run_until() to turn the loop until something happened (with a
// limit, so a broken test fails instead of hanging). The destructor closes whatever the test
// made, then the server, and checks that the loop closes clean.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <doctest/doctest.h>
#include <uv.h>

#include "core/clock.h"
#include "obs/logger.h"
#include "obs/metrics.h"
#include "redis/client.h"
#include "redis/connection.h"
#include "redis/subscriber.h"
#include "unit/redis/fake_redis.h"

namespace rl::test {

using namespace std::chrono_literals;

struct Harness {
  Harness() {
    uv_loop_init(&loop);
    uv_timer_init(&loop, &tick);
    fake = std::make_unique<FakeRedis>(&loop);
  }
  ~Harness() {
    int closing = 0;
    const auto one = [&closing] { --closing; };
    if (client) {
      ++closing;
      client->close(one);
    }
    if (connection) {
      ++closing;
      connection->close(one);
    }
    if (subscriber) {
      ++closing;
      subscriber->close(one);
    }
    fake->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(closing == 0);
    CHECK(uv_loop_close(&loop) == 0);
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  redis::ConnectionOptions options(std::chrono::milliseconds timeout = 1000ms,
                                   std::string_view url = "") const {
    redis::ConnectionOptions o;
    o.url = *config::RedisUrl::parse(url.empty() ? fake->url() : std::string(url));
    o.timeout = timeout;
    o.backoff_min = 5ms;
    o.backoff_max = 20ms;
    return o;
  }

  redis::Client& make_client(redis::ConnectionOptions o, int connections = 1) {
    client = std::make_unique<redis::Client>(&loop, std::move(o), connections, log, metrics);
    int ready = 0;
    client->set_ready_listener([&ready] { ++ready; });
    client->start();
    REQUIRE(run_until([&] { return ready == connections; }));
    client->set_ready_listener({});
    const auto scripts = redis::all_scripts().size() * static_cast<std::size_t>(connections);
    REQUIRE(run_until([&] { return fake->count("SCRIPT") == scripts; }));
    run_for(20ms);  // their replies, answered at once, are read
    return *client;
  }

  redis::Connection& make_connection(redis::ConnectionOptions o) {
    connection = std::make_unique<redis::Connection>(&loop, std::move(o));
    connection->start();
    REQUIRE(run_until([&] { return connection->ready(); }));
    return *connection;
  }

  // Turns the loop until `done()` or `limit` has passed; returns done().
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 3000ms) {
    uv_timer_start(
        &tick, [](uv_timer_t*) {}, 1, 1);  // never blocks for long
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end)
      uv_run(&loop, UV_RUN_ONCE);
    uv_timer_stop(&tick);
    return done();
  }
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }

  uv_loop_t loop{};
  uv_timer_t tick{};
  std::unique_ptr<FakeRedis> fake;
  core::ManualClock clock;
  obs::MemorySink sink;
  obs::Logger log{sink, clock};
  obs::Registry registry;
  redis::ClientMetrics metrics{registry};
  std::unique_ptr<redis::Client> client;
  std::unique_ptr<redis::Connection> connection;
  std::unique_ptr<redis::Subscriber> subscriber;
};

}  // namespace rl::test
