// ClusterClient: nodes, routing of single commands and script calls, and what their replies
// ask for (MOVED, ASK, TRYAGAIN, CLUSTERDOWN). The slot map is read in cluster_refresh.cpp,
// batches and SCAN are in cluster_batch.cpp, start, close and timers in cluster_lifecycle.cpp.
#include "redis/cluster_client.h"

#include <algorithm>
#include <charconv>

namespace rl::redis {
namespace {

core::Error unavailable(std::string why) {
  return core::make_error(core::Errc::unavailable, std::move(why));
}

bool is_noscript(const core::Result<ReplyPtr>& r) {
  return r && is_error(**r) && text(**r).starts_with("NOSCRIPT");
}

}  // namespace

// A call in flight: its arguments owned (the caller's are gone once a redirect comes back),
// where it went, and how many redirects and retries it has had.
struct ClusterClient::Call {
  bool script = false;
  bool asked_eval = false;  // ASK: the EVAL after a NOSCRIPT has been sent
  ScriptId id{};
  std::size_t keys = 0;  // script: the first `keys` parts are keys
  int slot = -1;         // -1: no key, any master
  std::uint16_t node = SlotMap::kNoNode;
  Client* client = nullptr;  // the one that answers; alive while it runs our callback
  int redirects = 0;
  core::Millis delay{1};
  Connection::Instant deadline{0};
  core::Result<ReplyPtr> last{ReplyPtr{}};  // waiting to retry: the answer if time runs out
  std::string text;
  std::vector<std::string_view> parts;
  Callback done;

  void own(std::span<const std::string_view> first, std::span<const std::string_view> second) {
    std::size_t size = 0;
    for (auto part : {first, second}) {
      for (std::string_view s : part)
        size += s.size();
    }
    text.reserve(size);  // no reallocation below: the views stay valid
    parts.reserve(first.size() + second.size());
    for (auto part : {first, second}) {
      for (std::string_view s : part) {
        const std::size_t at = text.size();
        text.append(s);
        parts.emplace_back(text.data() + at, s.size());
      }
    }
  }
  // The command as a batch entry (ASK sends it after ASKING, in one batch).
  Command owned(bool eval) const {
    Command c;
    if (script) {
      const Script& s = redis::script(id);
      c = {eval ? "EVAL" : "EVALSHA", std::string(eval ? s.source : s.sha1), std::to_string(keys)};
    }
    for (std::string_view p : parts)
      c.emplace_back(p);
    return c;
  }
};

ClusterMetrics::ClusterMetrics(obs::Registry& r)
    : moved(r.counter("rl_redis_cluster_redirects_total",
                      "Redis Cluster redirections followed, by kind.", {{"kind", "moved"}})),
      ask(r.counter("rl_redis_cluster_redirects_total",
                    "Redis Cluster redirections followed, by kind.", {{"kind", "ask"}})),
      tryagain(r.counter("rl_redis_cluster_retries_total",
                         "Redis Cluster commands sent again after a short wait, by kind.",
                         {{"kind", "tryagain"}})),
      clusterdown(r.counter("rl_redis_cluster_retries_total",
                            "Redis Cluster commands sent again after a short wait, by kind.",
                            {{"kind", "clusterdown"}})),
      refreshes(r.counter("rl_redis_cluster_slot_refreshes_total",
                          "Redis Cluster slot maps read (CLUSTER SLOTS).")) {}

ClusterClient::ClusterClient(uv_loop_t* loop, ConnectionOptions options, int connections,
                             obs::Logger& log, ClientMetrics& metrics, obs::Registry& registry)
    : loop_(loop),
      options_(std::move(options)),
      connections_(connections),
      log_(log),
      metrics_(metrics),
      cluster_metrics_(registry),
      timeout_(options_.timeout),
      seeds_(options_.url.nodes) {
  if (seeds_.empty()) seeds_.push_back({options_.url.host, options_.url.port});
  slots_.fill(kNoNode);
}

ClusterClient::~ClusterClient() = default;

// -- nodes ------------------------------------------------------------------------------------

std::uint16_t ClusterClient::node_index(const config::HostPort& address) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].address == address) return static_cast<std::uint16_t>(i);
  }
  if (nodes_.size() >= kNoNode) return kNoNode;  // not a real cluster: 16384 nodes at most
  nodes_.push_back(Node{address, nullptr, false, false});
  return static_cast<std::uint16_t>(nodes_.size() - 1);
}

Client& ClusterClient::client_of(std::uint16_t node) {
  Node& n = nodes_[node];
  if (!n.client) {
    ConnectionOptions o = options_;
    o.url = options_.url.node(n.address);
    n.client = std::make_unique<Client>(loop_, std::move(o), connections_, log_, metrics_);
    n.client->set_ready_listener([this] { on_node_ready(); });
    n.created = Connection::fresh_now();
    n.client->start();
  }
  return *n.client;
}

bool ClusterClient::connecting(std::uint16_t node) const {
  const Node& n = nodes_[node];
  return n.client && !n.client->ready() &&
         Connection::fresh_now() - n.created < options_.connect_timeout;
}

std::uint16_t ClusterClient::node_of_slot(int slot) {
  if (closing_) return kNoNode;
  if (slot < 0) return any_master();
  return slots_[static_cast<std::size_t>(slot)];
}

// Keyless commands (PING, PUBLISH) go round the masters, a connected one if there is one.
std::uint16_t ClusterClient::any_master() {
  std::uint16_t fallback = kNoNode;
  for (std::size_t k = 0; k < nodes_.size(); ++k) {
    const auto i = static_cast<std::uint16_t>((next_master_ + k) % nodes_.size());
    if (!nodes_[i].master) continue;
    if (nodes_[i].client && nodes_[i].client->ready()) {
      next_master_ = static_cast<std::uint16_t>(i + 1);
      return i;
    }
    if (fallback == kNoNode) fallback = i;
  }
  return fallback;
}

void ClusterClient::on_node_ready() {
  // Readiness of the whole cluster is what a listener (rld's bootstrap) can act on.
  if (ready() && on_ready_) on_ready_();
}

bool ClusterClient::ready() const {
  if (!map_known_ || closing_) return false;
  bool any = false;
  for (const Node& n : nodes_) {
    if (!n.master) continue;
    if (!n.client || !n.client->ready()) return false;
    any = true;
  }
  return any;
}

std::vector<config::RedisUrl> ClusterClient::endpoints() const {
  std::vector<config::HostPort> all = seeds_;
  for (const Node& n : nodes_) {
    if (std::find(all.begin(), all.end(), n.address) == all.end()) all.push_back(n.address);
  }
  std::vector<config::RedisUrl> out;
  for (const auto& a : all)
    out.push_back(options_.url.node(a));
  return out;
}

std::vector<std::string> ClusterClient::masters() const {
  std::vector<std::string> out;
  for (const Node& n : nodes_) {
    if (n.master) out.push_back(n.address.to_string());
  }
  return out;
}

// -- single calls -----------------------------------------------------------------------------

void ClusterClient::command(std::span<const std::string_view> args, Callback done) {
  auto call = std::make_unique<Call>();
  const auto key = routing_key(args);
  call->slot = key ? key_slot(*key) : -1;
  call->own(args, {});
  call->deadline = Connection::fresh_now() + timeout_;
  call->done = std::move(done);
  send(std::move(call));
}

void ClusterClient::eval(ScriptId id, std::span<const std::string_view> keys,
                         std::span<const std::string_view> args, Callback done) {
  auto call = std::make_unique<Call>();
  call->script = true;
  call->id = id;
  call->keys = keys.size();
  call->slot = keys.empty() ? -1 : key_slot(keys.front());
  call->own(keys, args);
  call->deadline = Connection::fresh_now() + timeout_;
  call->done = std::move(done);
  send(std::move(call));
}

void ClusterClient::follow(std::span<const std::string_view> args, int slot, std::uint16_t node,
                           core::Result<ReplyPtr> reply, Callback done) {
  auto call = std::make_unique<Call>();
  call->slot = slot;
  call->node = node;
  call->own(args, {});
  call->deadline = Connection::fresh_now() + timeout_;
  call->done = std::move(done);
  on_reply(call.release(), std::move(reply));
}

void ClusterClient::send(std::unique_ptr<Call> call) {
  const std::uint16_t node = node_of_slot(call->slot);
  if (node == kNoNode) {
    request_refresh();
    const std::string why =
        closing_      ? "closing"
        : !map_known_ ? "the Redis Cluster slot map is not known yet"
                      : "no Redis Cluster master serves slot " + std::to_string(call->slot);
    return finish(std::move(call), unavailable(why), false);
  }
  Client& c = client_of(node);
  if (connecting(node)) {
    // Failing now would fail every call a failover redirects, until the new master's Client is
    // up: a few milliseconds of waiting, within the call's deadline, instead.
    return wait_and_send(std::move(call),
                         core::make_error(core::Errc::unavailable, "Redis is not connected"));
  }
  call->node = node;
  call->client = &c;
  Call* raw = call.release();  // owned by the callback, which runs exactly once
  auto reply = [this, raw](core::Result<ReplyPtr> r) { on_reply(raw, std::move(r)); };
  const std::span<const std::string_view> parts(raw->parts);
  if (raw->script) {
    c.eval(raw->id, parts.first(raw->keys), parts.subspan(raw->keys), raw->deadline,
           std::move(reply));
  } else {
    c.command(parts, raw->deadline, std::move(reply));
  }
}

// ASKING and the command on one connection of the target (a batch of two goes on one), once.
void ClusterClient::send_asking(std::unique_ptr<Call> call, std::uint16_t node) {
  if (node == kNoNode || closing_) {
    return finish(std::move(call), unavailable(closing_ ? "closing" : "bad ASK target"), false);
  }
  Client& c = client_of(node);
  call->node = node;
  call->client = &c;
  std::vector<Command> commands{{"ASKING"}, call->owned(call->asked_eval)};
  Call* raw = call.release();
  c.batch(std::move(commands), [this, raw](std::vector<core::Result<ReplyPtr>> results) {
    std::unique_ptr<Call> owned(raw);
    if (owned->script && !owned->asked_eval && is_noscript(results[1])) {
      metrics_.noscript.inc();  // the target has not loaded the script yet: send it whole
      owned->asked_eval = true;
      const std::uint16_t target = owned->node;
      return send_asking(std::move(owned), target);
    }
    on_reply(owned.release(), std::move(results[1]));
  });
}

void ClusterClient::on_reply(Call* raw, core::Result<ReplyPtr> r) {
  std::unique_ptr<Call> call(raw);
  if (!r) {
    const bool repeated = call->client != nullptr && call->client->repeated_failure();
    // Lost, refused or too slow: the node may have failed over. Too many in flight is ours.
    if (r.error().code != core::Errc::overloaded) request_refresh();
    return finish(std::move(call), std::move(r), repeated);
  }
  const RedirectReply redirect = redirect_of(**r);
  if (redirect.kind == Redirect::none || closing_ || ++call->redirects > kMaxRedirects) {
    return finish(std::move(call), std::move(r), false);
  }
  // An unknown endpoint ("?") means the host of the node that answered.
  const config::HostPort to{redirect.host.empty() ? nodes_[call->node].address.host : redirect.host,
                            redirect.port};
  // A redirect is sent even if the first deadline has passed: one attempt, in full.
  const auto fresh = Connection::fresh_now() + timeout_;
  switch (redirect.kind) {
    case Redirect::moved:
      cluster_metrics_.moved.inc();
      moved(redirect.slot, to);
      request_refresh();
      call->deadline = std::max(call->deadline, fresh);
      return send(std::move(call));
    case Redirect::ask:
      cluster_metrics_.ask.inc();
      call->asked_eval = false;
      return send_asking(std::move(call), node_index(to));
    case Redirect::tryagain:
      cluster_metrics_.tryagain.inc();
      return wait_and_send(std::move(call), std::move(r));
    case Redirect::clusterdown:
      cluster_metrics_.clusterdown.inc();
      request_refresh();
      return wait_and_send(std::move(call), std::move(r));
    case Redirect::none:
      break;
  }
}

// TRYAGAIN (keys of a slot in migration) and CLUSTERDOWN (a failover under way): again after a
// wait of 1, 2, 4, 8 ms, while the call's deadline allows; else the caller gets that reply.
void ClusterClient::wait_and_send(std::unique_ptr<Call> call, core::Result<ReplyPtr> last) {
  const auto at = Connection::fresh_now() + call->delay;
  if (at >= call->deadline) return finish(std::move(call), std::move(last), false);
  call->delay = std::min(call->delay * 2, core::Millis{8});
  call->last = std::move(last);
  Call* raw = call.release();
  defer(at, [this, raw](bool go) {
    std::unique_ptr<Call> owned(raw);
    if (!go) return finish(std::move(owned), unavailable("closing"), false);
    // A loop that ran late may find the deadline gone: the answer is then the last reply.
    if (Connection::fresh_now() >= owned->deadline) {
      core::Result<ReplyPtr> answer = std::move(owned->last);
      return finish(std::move(owned), std::move(answer), false);
    }
    send(std::move(owned));
  });
}

void ClusterClient::finish(std::unique_ptr<Call> call, core::Result<ReplyPtr> r, bool repeated) {
  Callback done = std::move(call->done);
  call.reset();
  const bool outer = std::exchange(repeated_failure_, repeated);  // callbacks may nest
  done(std::move(r));
  repeated_failure_ = outer;
}

}  // namespace rl::redis
