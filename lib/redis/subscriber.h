// Subscriber: a connection in pub/sub mode on one channel (rl:events). Re-subscribes after
// every reconnect and says so, because messages sent while it was away are lost: the owner
// must then treat everything it cached as stale. Classic pub/sub reaches every node of a Redis
// Cluster, so in a cluster it listens on any one node and, when that connection is lost, dials
// the next of its endpoints (the URL's seeds, or what set_endpoints() provides: the seeds and
// every node in the slot map). Loop-thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "obs/logger.h"
#include "redis/connection.h"

namespace rl::redis {

class Subscriber {
 public:
  using MessageHandler = std::function<void(std::string_view payload)>;
  // Runs after each (re)subscription: whatever was cached may have missed messages.
  using ResyncHandler = std::function<void()>;
  // The endpoints to go round when the connection is lost, read each time it is.
  using EndpointSource = std::function<std::vector<config::RedisUrl>()>;

  Subscriber(uv_loop_t* loop, ConnectionOptions options, std::string channel, obs::Logger& log,
             MessageHandler on_message, ResyncHandler on_resync);

  // Replaces the endpoints (by default: the one of `options.url`, or its cluster seeds), e.g.
  // with Commands::endpoints() of the client beside it.
  void set_endpoints(EndpointSource source) { endpoints_ = std::move(source); }
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
  void next_endpoint();

  std::unique_ptr<Connection> connection_;
  std::string channel_;
  obs::Logger& log_;
  MessageHandler on_message_;
  ResyncHandler on_resync_;
  EndpointSource endpoints_;
  std::size_t endpoint_ = 0;  // the one dialled last, in what endpoints_ returned
  bool subscribed_ = false;
};

}  // namespace rl::redis
