// The load engine: connections, the closed and open loops, the stop rules and the counting.
#include "apps/rlbench/load.h"

#include <cmath>
#include <cstdio>
#include <sys/timerfd.h>
#include <unistd.h>

namespace rl::rlbench {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kGrace{2000};
constexpr std::chrono::milliseconds kRetryPause{10};
constexpr std::chrono::seconds kStall{10};

class Engine {
 public:
  Engine(uv_loop_t* loop, const LoadOptions& o) : loop_(loop), o_(o) {
    const std::size_t targets = o.targets.size();
    const std::size_t keys = std::max<std::size_t>(1, o.keys.size());
    for (std::size_t t = 0; t < targets; ++t) {
      requests_.emplace_back();
      for (std::size_t k = 0; k < keys; ++k) {
        requests_.back().push_back(
            build_request(o, o.targets[t], o.keys.empty() ? std::string_view{} : o.keys[k]));
      }
    }
    for (int i = 0; i < std::max(1, o.concurrent); ++i) {
      Slot slot;
      slot.target = static_cast<std::size_t>(i) % targets;
      slot.connection = std::make_unique<http::ClientConnection>(loop, o.targets[slot.target]);
      slots_.push_back(std::move(slot));
    }
  }

  LoadReport run() {
    start_ = last_answer_ = SteadyClock::now();
    uv_timer_init(loop_, &tick_);
    tick_.data = this;
    uv_timer_start(
        &tick_, [](uv_timer_t* t) { static_cast<Engine*>(t->data)->on_tick(); }, 1, 1);
    uv_timer_init(loop_, &progress_);
    progress_.data = this;
    if (o_.progress) {
      uv_timer_start(
          &progress_, [](uv_timer_t* t) { static_cast<Engine*>(t->data)->print_progress(); }, 1000,
          1000);
    }
    if (o_.rate <= 0) {
      for (std::size_t i = 0; i < slots_.size(); ++i)
        issue(i, SteadyClock::now());
    } else {
      start_pacer();
    }
    uv_run(loop_, UV_RUN_DEFAULT);
    report_.duration_s = std::chrono::duration<double>(finished_ - start_).count();
    if (o_.progress) std::fputs("\n", stderr);
    return std::move(report_);
  }

 private:
  struct Slot {
    std::size_t target = 0;
    std::unique_ptr<http::ClientConnection> connection;
    bool busy = false;
    SteadyClock::time_point pause_until{};
  };

  bool issuing_done() const {
    if (o_.rate > 0) return scheduled_ >= open_loop_total() && backlog_.empty();
    if (o_.requests > 0 && issued_ >= o_.requests) return true;
    return o_.duration.count() > 0 && SteadyClock::now() - start_ >= o_.duration;
  }

  // Open loop: request k is due at start + k / rate; those due within the duration (or the
  // first `requests`) are sent.
  std::uint64_t open_loop_total() const {
    if (o_.requests > 0) return o_.requests;
    return static_cast<std::uint64_t>(
        std::ceil(std::chrono::duration<double>(o_.duration).count() * o_.rate));
  }
  SteadyClock::time_point due_time(std::uint64_t k) const {
    return start_ + std::chrono::duration_cast<SteadyClock::duration>(
                        std::chrono::duration<double>(static_cast<double>(k) / o_.rate));
  }

  // Sends one request on slot i; latency counts from `due` (the send time, or in the open
  // loop the time the request was scheduled for).
  void issue(std::size_t i, SteadyClock::time_point due) {
    if (stopping_ || (o_.rate <= 0 && issuing_done())) return;
    Slot& slot = slots_[i];
    const auto& bytes = requests_[slot.target][next_key_++ % requests_[slot.target].size()];
    slot.busy = true;
    ++issued_;
    slot.connection->send(bytes, [this, i, due](core::Result<const http::ClientResponse*> r) {
      Slot& s = slots_[i];
      s.busy = false;
      last_answer_ = SteadyClock::now();
      if (r) {
        ++report_.requests;
        ++report_.status[(*r)->status];
        report_.latency.record(SteadyClock::now() - due);
      } else {
        ++report_.errors;
        s.pause_until = SteadyClock::now() + kRetryPause;  // a dead target must not spin us
      }
      if (o_.rate <= 0 && r) issue(i, SteadyClock::now());
      if (o_.rate > 0 && r && !backlog_.empty() && !stopping_) {  // overdue: send it now
        const auto next = backlog_.front();
        backlog_.pop_front();
        issue(i, next);
      }
      maybe_finish();
    });
  }

  void on_tick() {
    const auto now = SteadyClock::now();
    if (o_.rate > 0 && !stopping_) {
      // Every request that should have started by now joins the backlog, with its due time.
      const double elapsed = std::chrono::duration<double>(now - start_).count();
      const auto due_total = std::min(
          open_loop_total(), static_cast<std::uint64_t>(std::floor(elapsed * o_.rate)) + 1);
      for (; scheduled_ < due_total; ++scheduled_)
        backlog_.push_back(due_time(scheduled_));
    }
    for (std::size_t i = 0; i < slots_.size() && !stopping_; ++i) {
      Slot& slot = slots_[i];
      if (slot.busy || slot.pause_until > now) continue;
      if (o_.rate > 0) {
        if (backlog_.empty()) break;
        const auto due = backlog_.front();
        backlog_.pop_front();
        issue(i, due);
      } else {
        issue(i, now);  // a connection that failed, after its pause
      }
    }
    maybe_finish();
    if (o_.rate > 0 && !stopping_) arm_pacer();
  }

  // The open loop's clock: a timerfd set to the next request's due time to the nanosecond
  // (libuv's timers count whole milliseconds, which would make every request up to 1 ms late
  // and that lateness would show as latency).
  void start_pacer() {
    pacer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (pacer_fd_ < 0) return;  // the 1 ms tick still paces
    uv_poll_init(loop_, &pacer_, pacer_fd_);
    pacer_.data = this;
    uv_poll_start(&pacer_, UV_READABLE, [](uv_poll_t* p, int, int) {
      auto* e = static_cast<Engine*>(p->data);
      std::uint64_t expirations = 0;
      while (read(e->pacer_fd_, &expirations, sizeof expirations) > 0) {
      }
      e->on_tick();
    });
    arm_pacer();
  }

  void arm_pacer() {
    if (pacer_fd_ < 0 || scheduled_ >= open_loop_total()) return;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
        due_time(scheduled_).time_since_epoch());
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(ns.count() / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(ns.count() % 1'000'000'000);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
    timerfd_settime(pacer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  void maybe_finish() {
    if (stopping_ || !issuing_done()) return;
    std::size_t busy = 0;
    for (const auto& s : slots_)
      busy += s.busy ? 1 : 0;
    const auto now = SteadyClock::now();
    const bool grace_over = o_.duration.count() > 0 && now - start_ >= o_.duration + kGrace;
    const bool stalled = now - last_answer_ >= kStall;  // a target that answers nothing
    if (busy > 0 && !grace_over && !stalled) return;
    stopping_ = true;
    finished_ = now;
    report_.errors += backlog_.size();  // open loop: due, never sent
    uv_timer_stop(&tick_);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&progress_), nullptr);
    if (pacer_fd_ >= 0) {
      uv_poll_stop(&pacer_);
      uv_close(reinterpret_cast<uv_handle_t*>(&pacer_),
               [](uv_handle_t* h) { close(static_cast<Engine*>(h->data)->pacer_fd_); });
    }
    for (auto& s : slots_)
      s.connection->close([] {});  // unanswered requests count as errors
  }

  void print_progress() {
    const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start_).count();
    std::fprintf(stderr, "\r%6.1fs  %10llu requests  %9.0f req/s  %6llu errors", elapsed,
                 static_cast<unsigned long long>(report_.requests),
                 elapsed > 0 ? static_cast<double>(report_.requests) / elapsed : 0.0,
                 static_cast<unsigned long long>(report_.errors));
  }

  uv_loop_t* loop_;
  const LoadOptions& o_;
  std::vector<std::vector<std::string>> requests_;  // [target][key]
  std::vector<Slot> slots_;
  std::deque<SteadyClock::time_point> backlog_;  // open loop: due, not yet sent
  uv_timer_t tick_{};
  uv_timer_t progress_{};
  uv_poll_t pacer_{};
  int pacer_fd_ = -1;
  SteadyClock::time_point start_{};
  SteadyClock::time_point finished_{};
  SteadyClock::time_point last_answer_{};
  std::uint64_t issued_ = 0;
  std::uint64_t scheduled_ = 0;
  std::size_t next_key_ = 0;
  bool stopping_ = false;
  LoadReport report_;
};

}  // namespace

std::string build_request(const LoadOptions& o, const http::Endpoint& target,
                          std::string_view key) {
  std::string out = o.method + " " + o.path + " HTTP/1.1\r\nHost: " + target.host_header() + "\r\n";
  if (!key.empty()) out += "X-API-Key: " + std::string(key) + "\r\n";
  for (const auto& [name, value] : o.headers)
    out += name + ": " + value + "\r\n";
  if (o.method == "POST" || o.method == "PUT" || o.method == "PATCH")
    out += "Content-Length: 0\r\n";
  out += "\r\n";
  return out;
}

LoadReport run_load(uv_loop_t* loop, const LoadOptions& options) {
  Engine engine(loop, options);
  return engine.run();
}

}  // namespace rl::rlbench
