// Subscriber: a connection in pub/sub mode on one channel (rl:events). Re-subscribes after
// every reconnect and says so, because messages sent while it was away are lost: the owner
// must then treat everything it cached as stale. Loop-thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "obs/logger.h"
#include "redis/connection.h"

namespace rl::redis {

class Subscriber {
 public:
  using MessageHandler = std::function<void(std::string_view payload)>;
  // Runs after each (re)subscription: whatever was cached may have missed messages.
  using ResyncHandler = std::function<void()>;

  Subscriber(uv_loop_t* loop, ConnectionOptions options, std::string channel, obs::Logger& log,
             MessageHandler on_message, ResyncHandler on_resync);

  void start() { connection_->start(); }
  void close(std::function<void()> closed) { connection_->close(std::move(closed)); }
  // True from Redis' confirmation of the SUBSCRIBE until the connection is lost: whether
  // events are being received. A refused SUBSCRIBE drops the connection and tries again.
  bool subscribed() const { return subscribed_; }
  // A PING on the subscribed connection: a silent, dead link is noticed (stall timeout) and
  // replaced, instead of quietly missing every event.
  void ping();

 private:
  void on_subscribed(core::Result<ReplyPtr> r);

  std::unique_ptr<Connection> connection_;
  std::string channel_;
  obs::Logger& log_;
  MessageHandler on_message_;
  ResyncHandler on_resync_;
  bool subscribed_ = false;
};

}  // namespace rl::redis
