// ClusterClient's lifecycle and timers: start (the first map read, the housekeeping tick),
// close (every node's Client, the probe, the timers, then one callback), and the deferred work
// of retries that wait (TRYAGAIN, CLUSTERDOWN, a new master still dialling), on one timer.
#include <algorithm>

#include "redis/cluster_client.h"

namespace rl::redis {

void ClusterClient::start() {
  for (uv_timer_t* t : {&tick_, &kick_, &wait_timer_}) {
    uv_timer_init(loop_, t);
    t->data = this;
  }
  uv_timer_start(&tick_, on_tick, static_cast<std::uint64_t>(kRefreshInterval.count()),
                 static_cast<std::uint64_t>(kRefreshInterval.count()));
  uv_unref(reinterpret_cast<uv_handle_t*>(&tick_));
  started_ = true;
  request_refresh();
}

void ClusterClient::close(std::function<void()> closed) {
  closed_ = std::move(closed);
  if (closing_) return;
  closing_ = true;
  pending_closes_ = 1;  // until everything below has been asked to close
  if (started_) {
    for (uv_timer_t* t : {&tick_, &kick_, &wait_timer_}) {
      ++pending_closes_;
      uv_close(reinterpret_cast<uv_handle_t*>(t),
               [](uv_handle_t* h) { static_cast<ClusterClient*>(h->data)->one_closed(); });
    }
  }
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [at, work] : waiting)
    work(false);
  ++probe_generation_;
  close_probe();
  for (Node& n : nodes_) {
    if (!n.client) continue;
    ++pending_closes_;
    n.client->close([this] { one_closed(); });
  }
  for (const Retired& r : retired_)
    pending_closes_ += r.closed ? 0 : 1;  // their own close callback counts them
  one_closed();
}

void ClusterClient::one_closed() {
  if (--pending_closes_ > 0 || !closed_) return;
  auto done = std::move(closed_);
  closed_ = nullptr;
  done();
}

void ClusterClient::defer(Connection::Instant at, std::function<void(bool go)> work) {
  if (!started_ || closing_) return work(false);
  waiting_.emplace(at, std::move(work));
  arm_wait_timer();
}

void ClusterClient::arm_wait_timer() {
  if (waiting_.empty() || closing_) return;
  const auto left = waiting_.begin()->first - Connection::fresh_now();
  const auto ms = std::max<std::int64_t>(0, std::chrono::ceil<core::Millis>(left).count());
  uv_timer_start(&wait_timer_, on_wait_timer, static_cast<std::uint64_t>(ms), 0);
}

void ClusterClient::on_wait_timer(uv_timer_t* timer) {
  auto* self = static_cast<ClusterClient*>(timer->data);
  const auto now = Connection::fresh_now();
  std::vector<std::function<void(bool)>> due;
  while (!self->waiting_.empty() && self->waiting_.begin()->first <= now) {
    due.push_back(std::move(self->waiting_.begin()->second));
    self->waiting_.erase(self->waiting_.begin());
  }
  for (auto& work : due)
    work(true);
  self->arm_wait_timer();
}

}  // namespace rl::redis
