// Mailbox: jobs handed to one libuv loop from any thread (uv_async_t plus a locked queue). The
// loop runs them in the order posted; a job posted after close() is dropped, since the loop it
// was meant for is ending. The only way rld's threads talk to each other.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include <uv.h>

namespace rl::rld {

class Mailbox {
 public:
  // On the loop's thread, or before the loop runs.
  explicit Mailbox(uv_loop_t* loop) {
    uv_async_init(loop, &async_, [](uv_async_t* a) { static_cast<Mailbox*>(a->data)->run(); });
    async_.data = this;
  }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Any thread.
  void post(std::function<void()> job) {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    jobs_.push_back(std::move(job));
    uv_async_send(&async_);
  }

  // On the loop's thread: stops taking jobs and lets the loop end; once only. The Mailbox must
  // outlive the loop's last turn (the handle's close callback).
  void close() {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      closed_ = true;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  }

 private:
  void run() {
    std::vector<std::function<void()>> jobs;
    {
      std::lock_guard lock(mutex_);
      jobs.swap(jobs_);
    }
    for (auto& job : jobs)
      job();
  }

  uv_async_t async_{};
  std::mutex mutex_;
  std::vector<std::function<void()>> jobs_;
  bool closed_ = false;
};

}  // namespace rl::rld
