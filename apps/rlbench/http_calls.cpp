// Synchronous calls over the async client: send, then run the loop until the callback.
#include "apps/rlbench/http_calls.h"

#include <algorithm>
#include <optional>

namespace rl::rlbench {

nlohmann::json Answer::json() const {
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

std::string Answer::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpCalls::HttpCalls(uv_loop_t* loop, std::vector<http::Endpoint> targets, std::string admin_key)
    : loop_(loop), admin_key_(std::move(admin_key)) {
  for (auto& t : targets)
    connections_.push_back(std::make_unique<http::ClientConnection>(loop, t));
}

HttpCalls::~HttpCalls() {
  std::size_t open = connections_.size();
  for (auto& c : connections_)
    c->close([&open] { --open; });
  while (open > 0 && uv_run(loop_, UV_RUN_ONCE) != 0) {
  }
}

core::Result<Answer> HttpCalls::call(
    std::size_t target, const std::string& method, const std::string& path,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body) {
  http::ClientConnection& c = *connections_[target % connections_.size()];
  std::string request =
      method + " " + path + " HTTP/1.1\r\nHost: " + c.endpoint().host_header() + "\r\n";
  for (const auto& [name, value] : headers)
    request += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  std::optional<core::Result<Answer>> result;
  c.send(request, [&result](core::Result<const http::ClientResponse*> r) {
    if (!r) {
      result.emplace(r.error());
      return;
    }
    Answer a;
    a.status = (*r)->status;
    for (const auto& h : (*r)->headers) {
      std::string name(h.name);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      a.headers[name] = std::string(h.value);
    }
    a.body = std::string((*r)->body);
    result.emplace(std::move(a));
  });
  uv_timer_t deadline{};
  bool expired = false;
  uv_timer_init(loop_, &deadline);
  deadline.data = &expired;
  uv_timer_start(
      &deadline, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 10000, 0);
  while (!result && !expired && uv_run(loop_, UV_RUN_ONCE) != 0) {
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&deadline), nullptr);
  uv_run(loop_, UV_RUN_NOWAIT);
  if (result) return std::move(*result);
  // No answer: drop this connection (its callback runs now, while `result` still exists) and
  // start the next call on a fresh one.
  const std::string where = c.endpoint().to_string();
  bool closed = false;
  c.close([&closed] { closed = true; });
  while (!closed && uv_run(loop_, UV_RUN_ONCE) != 0) {
  }
  auto& slot = connections_[target % connections_.size()];
  slot = std::make_unique<http::ClientConnection>(loop_, slot->endpoint());
  return core::make_error(core::Errc::timeout, "no answer from " + where + " within 10 s");
}

core::Result<Answer> HttpCalls::admin(std::size_t target, const std::string& method,
                                      const std::string& path, const nlohmann::json& body) {
  std::vector<std::pair<std::string, std::string>> headers = {{"X-Admin-Key", admin_key_}};
  std::string text;
  if (!body.is_null()) {
    headers.emplace_back("Content-Type", "application/json");
    text = body.dump();
  }
  return call(target, method, path, headers, text);
}

core::Result<Answer> HttpCalls::test(std::size_t target, const std::string& api_key) {
  return call(target, "GET", "/test", {{"X-API-Key", api_key}});
}

}  // namespace rl::rlbench
