// Key names and event messages.
#include "store/key_space.h"

#include "core/text.h"

namespace rl::store {

std::string KeySpace::tagged(std::string_view kind, std::string_view tag,
                             std::string_view rest) const {
  std::string out = prefix_;
  out.append(kind);
  out.push_back('{');
  out.append(tag);
  out.push_back('}');
  out.append(rest);
  return out;
}

std::string KeySpace::api_key_pattern(std::string_view key_id) const {
  return join("apikey:", key_id) + "*";
}

std::string_view KeySpace::client_of_block(std::string_view key) const {
  const std::string head = prefix_ + "block:{";
  if (!key.starts_with(head) || !key.ends_with('}')) return {};
  return key.substr(head.size(), key.size() - head.size() - 1);
}

void KeySpace::counter(std::string& out, std::string_view user, limiter::Algorithm algorithm,
                       core::Seconds window) const {
  out.assign(prefix_);
  out.append("c:{");
  out.append(user);
  out.append("}:");
  switch (algorithm) {
    case limiter::Algorithm::sliding_window:
      out.append("sw:");
      break;
    case limiter::Algorithm::fixed_window:
      out.append("fw:");
      break;
    case limiter::Algorithm::token_bucket:
      out.append("tb:");
      break;
  }
  core::append_int(out, window.count());
}

std::string event_message(EventKind kind, std::string_view subject) {
  switch (kind) {
    case EventKind::user:
      return "user:" + std::string(subject);
    case EventKind::key:
      return "key:" + std::string(subject);
    case EventKind::tier:
      return "tier:" + std::string(subject);
    case EventKind::health:
      return "health";
    case EventKind::block:
      return "block:" + std::string(subject);
  }
  return "health";
}

std::optional<Event> parse_event(std::string_view message) {
  if (message == "health") return Event{EventKind::health, {}};
  const auto colon = message.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view kind = message.substr(0, colon);
  const std::string_view subject = message.substr(colon + 1);
  if (subject.empty()) return std::nullopt;
  if (kind == "user") return Event{EventKind::user, subject};
  if (kind == "key") return Event{EventKind::key, subject};
  if (kind == "tier") return Event{EventKind::tier, subject};
  if (kind == "block") return Event{EventKind::block, subject};
  return std::nullopt;
}

}  // namespace rl::store
