// ResponseParser on llhttp; each complete response pauses the parser until next().
#include "http/response_parser.h"

#include "core/text.h"

namespace rl::http {
namespace {

ResponseParser& self(llhttp_t* p) {
  return *static_cast<ResponseParser*>(p->data);
}

}  // namespace

std::string_view ClientResponse::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (core::iequals(h.name, name)) return h.value;
  }
  return {};
}

ResponseParser::ResponseParser(std::size_t max_header_bytes, std::size_t max_body_bytes)
    : max_header_bytes_(max_header_bytes), max_body_bytes_(max_body_bytes) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = &ResponseParser::on_message_begin;
  settings_.on_header_field = &ResponseParser::on_header_field;
  settings_.on_header_value = &ResponseParser::on_header_value;
  settings_.on_headers_complete = &ResponseParser::on_headers_complete;
  settings_.on_body = &ResponseParser::on_body;
  settings_.on_message_complete = &ResponseParser::on_message_complete;
  llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
  parser_.data = this;
}

int ResponseParser::on_message_begin(llhttp_t* p) {
  self(p).started_ = true;
  return 0;
}

int ResponseParser::on_header_field(llhttp_t* p, const char* at, std::size_t len) {
  ResponseParser& r = self(p);
  if (r.response_.status != 0) return 0;  // trailers: not kept
  if (r.head_.size() + len > r.max_header_bytes_) {
    r.error_ = "response headers too large";
    return HPE_USER;
  }
  r.spans_.add_name(r.head_, at, len);
  return 0;
}

int ResponseParser::on_header_value(llhttp_t* p, const char* at, std::size_t len) {
  ResponseParser& r = self(p);
  if (r.response_.status != 0) return 0;
  if (r.head_.size() + len > r.max_header_bytes_) {
    r.error_ = "response headers too large";
    return HPE_USER;
  }
  r.spans_.add_value(r.head_, at, len);
  return 0;
}

int ResponseParser::on_headers_complete(llhttp_t* p) {
  ResponseParser& r = self(p);
  r.spans_.views(r.head_, r.headers_);
  r.response_.status = llhttp_get_status_code(p);
  r.response_.headers = r.headers_;
  return 0;
}

int ResponseParser::on_body(llhttp_t* p, const char* at, std::size_t len) {
  ResponseParser& r = self(p);
  if (r.body_.size() + len > r.max_body_bytes_) {
    r.error_ = "response body too large";
    return HPE_USER;
  }
  r.body_.append(at, len);
  return 0;
}

int ResponseParser::on_message_complete(llhttp_t* p) {
  ResponseParser& r = self(p);
  r.response_.body = r.body_;
  r.response_.keep_alive = llhttp_should_keep_alive(p) != 0;
  r.paused_ = true;
  return HPE_PAUSED;
}

ResponseParser::Step ResponseParser::map(llhttp_errno_t err, const char* data, std::size_t len) {
  if (err == HPE_OK) return Step{State::need_more, len};
  const char* pos = llhttp_get_error_pos(&parser_);
  const std::size_t consumed =
      (pos != nullptr && data != nullptr && pos >= data && pos <= data + len)
          ? static_cast<std::size_t>(pos - data)
          : len;
  if (err == HPE_PAUSED && paused_) return Step{State::response, consumed};
  if (*error_ == '\0') error_ = llhttp_errno_name(err);
  return Step{State::error, consumed};
}

ResponseParser::Step ResponseParser::feed(const char* data, std::size_t len) {
  if (paused_) return Step{State::response, 0};
  return map(llhttp_execute(&parser_, data, len), data, len);
}

ResponseParser::Step ResponseParser::finish() {
  if (paused_) return Step{State::response, 0};
  return map(llhttp_finish(&parser_), nullptr, 0);
}

void ResponseParser::next() {
  head_.clear();
  body_.clear();
  spans_.clear();
  headers_.clear();
  started_ = false;
  response_ = ClientResponse{};
  if (paused_) {
    paused_ = false;
    llhttp_resume(&parser_);
  }
}

}  // namespace rl::http
