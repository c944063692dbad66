// Tests of obs/metrics.h: the Prometheus text exposition of counters, gauges, gauge functions
// and histograms (HELP/TYPE lines, label escaping, cumulative buckets), and series identity.
#include "obs/metrics.h"

#include <algorithm>
#include <regex>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

namespace {

using rl::obs::Registry;

bool contains(const std::string& text, std::string_view needle) {
  return text.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("a counter renders with its HELP and TYPE lines and its value") {
  Registry r;
  r.counter("rl_requests_total", "Requests seen.").inc(3);
  CHECK(r.render() ==
        "# HELP rl_requests_total Requests seen.\n"
        "# TYPE rl_requests_total counter\n"
        "rl_requests_total 3\n");
}

TEST_CASE("series of one family share one HELP and TYPE header") {
  Registry r;
  r.counter("rl_decisions_total", "Decisions.", {{"tier", "free"}, {"result", "allowed"}}).inc();
  r.counter("rl_decisions_total", "Decisions.", {{"tier", "pro"}, {"result", "denied"}}).inc(2);
  CHECK(r.render() ==
        "# HELP rl_decisions_total Decisions.\n"
        "# TYPE rl_decisions_total counter\n"
        "rl_decisions_total{tier=\"free\",result=\"allowed\"} 1\n"
        "rl_decisions_total{tier=\"pro\",result=\"denied\"} 2\n");
}

TEST_CASE("the same counter name and labels registered twice is the same counter") {
  Registry r;
  auto& a = r.counter("rl_x_total", "X.", {{"kind", "a"}});
  auto& again = r.counter("rl_x_total", "X.", {{"kind", "a"}});
  auto& b = r.counter("rl_x_total", "X.", {{"kind", "b"}});
  CHECK(&a == &again);
  CHECK(&a != &b);
  a.inc();
  again.inc();
  CHECK(a.value() == 2);
  CHECK(b.value() == 0);
}

TEST_CASE("a gauge renders its current value, negative included") {
  Registry r;
  auto& g = r.gauge("rl_open", "Open things.");
  g.set(5);
  g.add(-8);
  CHECK(g.value() == -3);
  CHECK(r.render() == "# HELP rl_open Open things.\n# TYPE rl_open gauge\nrl_open -3\n");
  CHECK(&r.gauge("rl_open", "Open things.") == &g);
}

TEST_CASE("a gauge function is read each time the registry renders") {
  Registry r;
  double value = 2.5;
  r.gauge_fn("rl_ratio", "A ratio.", {{"pool", "a"}}, [&] { return value; });
  CHECK(contains(r.render(), "\nrl_ratio{pool=\"a\"} 2.5\n"));
  value = 7;
  CHECK(contains(r.render(), "\nrl_ratio{pool=\"a\"} 7\n"));
  CHECK(contains(r.render(), "# TYPE rl_ratio gauge\n"));
}

TEST_CASE("label values escape backslash, double quote and newline") {
  Registry r;
  r.counter("rl_x_total", "X.", {{"v", "a\\b\"c\nd"}}).inc();
  CHECK(contains(r.render(), "rl_x_total{v=\"a\\\\b\\\"c\\nd\"} 1\n"));
}

TEST_CASE("HELP text escapes backslash and newline") {
  Registry r;
  r.counter("rl_x_total", "Line one\nback\\slash").inc();
  CHECK(contains(r.render(), "# HELP rl_x_total Line one\\nback\\\\slash\n"));
}

TEST_CASE("a histogram renders cumulative buckets, +Inf, _sum and _count") {
  Registry r;
  auto& h = r.histogram("rl_latency_seconds", "Latency.", {0.001, 0.01, 0.1});
  h.observe(std::chrono::microseconds{500});
  h.observe(std::chrono::microseconds{1000});  // on a bound: counted in that bucket (le)
  h.observe(std::chrono::microseconds{5000});
  h.observe(std::chrono::seconds{2});
  CHECK(r.render() ==
        "# HELP rl_latency_seconds Latency.\n"
        "# TYPE rl_latency_seconds histogram\n"
        "rl_latency_seconds_bucket{le=\"0.001\"} 2\n"
        "rl_latency_seconds_bucket{le=\"0.01\"} 3\n"
        "rl_latency_seconds_bucket{le=\"0.1\"} 3\n"
        "rl_latency_seconds_bucket{le=\"+Inf\"} 4\n"
        "rl_latency_seconds_sum 2.0065\n"
        "rl_latency_seconds_count 4\n");
}

TEST_CASE("a labelled histogram puts le after its own labels") {
  Registry r;
  auto& h = r.histogram("rl_store_seconds", "Store calls.", {0.5}, {{"op", "consume"}});
  h.observe(std::chrono::milliseconds{100});
  const std::string text = r.render();
  CHECK(contains(text, "rl_store_seconds_bucket{op=\"consume\",le=\"0.5\"} 1\n"));
  CHECK(contains(text, "rl_store_seconds_bucket{op=\"consume\",le=\"+Inf\"} 1\n"));
  CHECK(contains(text, "rl_store_seconds_sum{op=\"consume\"} 0.1\n"));
  CHECK(contains(text, "rl_store_seconds_count{op=\"consume\"} 1\n"));
  CHECK(&r.histogram("rl_store_seconds", "Store calls.", {0.5}, {{"op", "consume"}}) == &h);
}

TEST_CASE("a histogram sorts its bounds and counts negative durations as zero") {
  rl::obs::Histogram h({0.1, 0.001, 0.01});
  CHECK(h.bounds() == std::vector<double>{0.001, 0.01, 0.1});
  h.observe(std::chrono::microseconds{-5});
  h.observe(std::chrono::microseconds{20'000});
  CHECK(h.cumulative_counts() == std::vector<std::uint64_t>{1, 1, 2, 2});
  CHECK(h.count() == 2);
  CHECK(h.sum_seconds() == doctest::Approx(0.02));
}

TEST_CASE("the latency buckets rise from 5 microseconds to one second") {
  const auto bounds = rl::obs::latency_buckets();
  REQUIRE(bounds.size() == 16);
  CHECK(bounds.front() == doctest::Approx(5e-6));
  CHECK(bounds.back() == doctest::Approx(1.0));
  CHECK(std::is_sorted(bounds.begin(), bounds.end()));
}

TEST_CASE("every rendered sample line is a name, optional labels and a number") {
  Registry r;
  r.counter("rl_a_total", "A.", {{"k", "v w"}}).inc();
  r.gauge("rl_b", "B.").set(1);
  r.gauge_fn("rl_c", "C.", {}, [] { return 0.25; });
  r.histogram("rl_d_seconds", "D.", rl::obs::latency_buckets())
      .observe(std::chrono::microseconds{30});
  const std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")"
                          R"((,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")*\})? )"
                          R"(([-+]?[0-9.eE+-]+|\+Inf|-Inf|NaN)$)");
  const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  std::istringstream in(r.render());
  int samples = 0;
  for (std::string line; std::getline(in, line);) {
    CAPTURE(line);
    CHECK((std::regex_match(line, sample) || std::regex_match(line, comment)));
    samples += line.starts_with("#") ? 0 : 1;
  }
  CHECK(samples == 3 + 17 + 2);
}

TEST_CASE("a counter function renders as a counter read at each scrape") {
  Registry r;
  double evicted = 3;
  r.counter_fn("rl_evicted_total", "Evicted.", {}, [&] { return evicted; });
  r.counter_fn("rl_evicted_total", "Evicted.", {}, [] { return 99.0; });  // the first one stays
  CHECK(r.render() ==
        "# HELP rl_evicted_total Evicted.\n"
        "# TYPE rl_evicted_total counter\n"
        "rl_evicted_total 3\n");
  evicted = 5;
  CHECK(contains(r.render(), "\nrl_evicted_total 5\n"));
}
