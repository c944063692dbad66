// HttpCalls: one request at a time to a target, waiting for the answer — what rlbench verify
// needs to drive the admin API and check decisions step by step. Runs the caller's loop until
// the answer (or 10 s) comes. One keep-alive connection per target, reused.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <uv.h>

#include "core/result.h"
#include "http/client.h"

namespace rl::rlbench {

struct Answer {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json() const;  // null when the body is not JSON
  std::string header(const std::string& lower_name) const;
};

class HttpCalls {
 public:
  HttpCalls(uv_loop_t* loop, std::vector<http::Endpoint> targets, std::string admin_key);
  ~HttpCalls();

  std::size_t targets() const { return connections_.size(); }
  const http::Endpoint& target(std::size_t i) const { return connections_[i]->endpoint(); }

  core::Result<Answer> call(std::size_t target, const std::string& method, const std::string& path,
                            const std::vector<std::pair<std::string, std::string>>& headers = {},
                            const std::string& body = {});
  // An admin call (with the admin key), JSON body.
  core::Result<Answer> admin(std::size_t target, const std::string& method, const std::string& path,
                             const nlohmann::json& body = nullptr);
  core::Result<Answer> test(std::size_t target, const std::string& api_key);

 private:
  uv_loop_t* loop_;
  std::string admin_key_;
  std::vector<std::unique_ptr<http::ClientConnection>> connections_;
};

}  // namespace rl::rlbench
