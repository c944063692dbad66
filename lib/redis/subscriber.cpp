// Subscribing, re-subscribing, moving to the next endpoint, and handing messages over.
#include "redis/subscriber.h"

namespace rl::redis {

Subscriber::Subscriber(uv_loop_t* loop, ConnectionOptions options, std::string channel,
                       obs::Logger& log, MessageHandler on_message, ResyncHandler on_resync)
    : connection_(std::make_unique<Connection>(loop, options)),
      channel_(std::move(channel)),
      log_(log),
      on_message_(std::move(on_message)),
      on_resync_(std::move(on_resync)) {
  if (options.url.cluster) {
    endpoints_ = [url = options.url] {
      std::vector<config::RedisUrl> seeds;
      for (const auto& node : url.nodes)
        seeds.push_back(url.node(node));
      return seeds;
    };
    connection_->retarget(options.url.node({options.url.host, options.url.port}));
  }
  connection_->set_push_handler([this](ReplyPtr message) {
    const redisReply* name = element(*message, 1);
    const redisReply* payload = element(*message, 2);
    if (name != nullptr && payload != nullptr && text(*name) == channel_) {
      on_message_(text(*payload));
    }
  });
  connection_->set_state_listener([this](Connection::State state, std::string_view) {
    subscribed_ = false;
    if (state == Connection::State::disconnected) return next_endpoint();
    if (state != Connection::State::ready) return;
    connection_->send({"SUBSCRIBE", channel_},
                      [this](core::Result<ReplyPtr> r) { on_subscribed(std::move(r)); });
  });
}

// Lost or never reached: the next dial, after the backoff, goes to the next endpoint.
void Subscriber::next_endpoint() {
  if (!endpoints_) return;
  const auto urls = endpoints_();
  if (urls.size() < 2) return;
  endpoint_ = (endpoint_ + 1) % urls.size();
  connection_->retarget(urls[endpoint_]);
}

void Subscriber::on_subscribed(core::Result<ReplyPtr> r) {
  const redisReply* kind = r ? element(**r, 0) : nullptr;
  if (kind == nullptr || text(*kind) != "subscribe") {
    std::string why =
        !r ? r.error().message : (is_error(**r) ? std::string(text(**r)) : "not a subscribe reply");
    log_.warn("redis_subscribe_failed", {{"channel", channel_}, {"error", why}});
    // Connected but not listening would miss every event: start over after the backoff (a
    // no-op if the connection is gone already; it subscribes again when it is back).
    connection_->reset("SUBSCRIBE failed: " + why);
    return;
  }
  subscribed_ = true;
  on_resync_();
}

void Subscriber::ping() {
  if (!connection_->ready()) return;
  connection_->send({"PING"}, [](core::Result<ReplyPtr>) {});
}

}  // namespace rl::redis
