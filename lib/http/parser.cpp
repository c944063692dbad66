// RequestParser on llhttp (strict mode). Each complete message pauses the parser from
// on_message_complete; next() resumes it.
#include "http/parser.h"

#include <algorithm>

#include "core/text.h"
#include "http/field_syntax.h"

namespace rl::http {
namespace {

RequestParser& self(llhttp_t* p) {
  return *static_cast<RequestParser*>(p->data);
}

// The path of an absolute-form target ("http://host/x" → "/x", RFC 9112 §3.2.2).
std::string_view origin_path(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() && core::iequals(target.substr(0, scheme.size()), scheme)) {
      const auto slash = target.find('/', scheme.size());
      return slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
  }
  return target;
}

// What the first bytes of a request line say of a method llhttp does not know: a token and a
// space (the method is merely unknown: 501), not a token (garbage: 400), or not yet either — a
// token whose end has not arrived, as when the client's first packet ends inside the method.
enum class MethodLine { token, not_token, undecided };

MethodLine classify_method(std::string_view line) {
  constexpr std::size_t kMaxMethod = 32;
  std::size_t n = 0;
  while (n < line.size() && n < kMaxMethod) {
    const char c = line[n];
    const bool tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!tchar) break;
    ++n;
  }
  if (n < line.size()) return n > 0 && line[n] == ' ' ? MethodLine::token : MethodLine::not_token;
  return MethodLine::undecided;  // the byte after the token, a space or not, is still to come
}

Method to_method(std::uint8_t m) {
  switch (m) {
    case HTTP_GET:
      return Method::get;
    case HTTP_HEAD:
      return Method::head;
    case HTTP_POST:
      return Method::post;
    case HTTP_PUT:
      return Method::put;
    case HTTP_PATCH:
      return Method::patch;
    case HTTP_DELETE:
      return Method::del;
    case HTTP_OPTIONS:
      return Method::options;
    default:
      return Method::other;
  }
}

}  // namespace

RequestParser::RequestParser(const ParserLimits& limits) : limits_(limits) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = &RequestParser::on_message_begin;
  settings_.on_url = &RequestParser::on_url;
  settings_.on_header_field = &RequestParser::on_header_field;
  settings_.on_header_value = &RequestParser::on_header_value;
  settings_.on_header_field_complete = &RequestParser::on_header_field_complete;
  settings_.on_header_value_complete = &RequestParser::on_header_value_complete;
  settings_.on_headers_complete = &RequestParser::on_headers_complete;
  settings_.on_chunk_header = &RequestParser::on_chunk_header;
  settings_.on_body = &RequestParser::on_body;
  settings_.on_message_complete = &RequestParser::on_message_complete;
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
  spans_.reserve(16);
  headers_.reserve(16);
}

int RequestParser::fail(int status, const char* reason) {
  error_status_ = status;
  error_reason_ = reason;
  llhttp_set_error_reason(&parser_, reason);
  return HPE_USER;
}

int RequestParser::on_message_begin(llhttp_t* p) {
  RequestParser& r = self(p);
  r.started_ = true;
  return 0;
}

int RequestParser::on_url(llhttp_t* p, const char* at, std::size_t len) {
  RequestParser& r = self(p);
  r.url_len_ += len;
  if (r.url_len_ > r.limits_.max_url_bytes) return r.fail(414, "request target too long");
  if (!r.add_header_bytes(len)) return r.fail(431, "request header fields too large");
  r.head_.append(at, len);
  return 0;
}

int RequestParser::add_trailer_bytes(std::size_t len) {
  trailer_bytes_ += len;
  if (trailer_bytes_ > limits_.max_header_bytes) return fail(431, "trailer fields too large");
  return 0;
}

bool RequestParser::add_header_bytes(std::size_t len) {
  return head_.size() + len <= limits_.max_header_bytes;
}

int RequestParser::on_header_field(llhttp_t* p, const char* at, std::size_t len) {
  RequestParser& r = self(p);
  r.field_name_len_ += len;
  r.folding_.name_piece(at, len);
  // Trailer fields of a chunked body arrive here too; they are counted against the limit but
  // not kept (appending them would move the buffer the request's views point into).
  if (r.headers_done_) return r.add_trailer_bytes(len);
  if (!r.add_header_bytes(len)) return r.fail(431, "request header fields too large");
  if (r.spans_.starts_field() && r.spans_.fields() >= r.limits_.max_headers) {
    return r.fail(431, "too many header fields");
  }
  r.spans_.add_name(r.head_, at, len);
  return 0;
}

int RequestParser::on_header_value(llhttp_t* p, const char* at, std::size_t len) {
  RequestParser& r = self(p);
  if (!r.folding_.value_piece(at, len)) {
    return r.fail(400, "obsolete line folding in a header field");
  }
  if (r.headers_done_) return r.add_trailer_bytes(len);
  if (!r.add_header_bytes(len)) return r.fail(431, "request header fields too large");
  r.spans_.add_value(r.head_, at, len);
  return 0;
}

int RequestParser::on_header_field_complete(llhttp_t* p) {
  RequestParser& r = self(p);
  if (r.field_name_len_ == 0) return r.fail(400, "empty header field name");
  r.folding_.name_complete();
  return 0;
}

int RequestParser::on_header_value_complete(llhttp_t* p) {
  RequestParser& r = self(p);
  r.field_name_len_ = 0;
  r.folding_.value_complete();
  return 0;
}

int RequestParser::check_head() {
  const std::uint8_t major = llhttp_get_http_major(&parser_);
  const std::uint8_t minor = llhttp_get_http_minor(&parser_);
  if (major != 1 || minor > 1) return fail(505, "HTTP version not supported: use HTTP/1.1");
  int hosts = 0;
  for (const Header& h : headers_) {
    if (!core::iequals(h.name, "host")) continue;
    ++hosts;
    if (!is_valid_host(h.value)) return fail(400, "invalid Host header");
  }
  if (minor == 1 && hosts != 1) {
    return fail(400, hosts == 0 ? "missing Host header" : "more than one Host header");
  }
  if (hosts > 1) return fail(400, "more than one Host header");
  if ((parser_.flags & F_CHUNKED) != 0 && !only_chunked_codings(headers_)) {
    return fail(501, "transfer coding not implemented: only chunked is");
  }
  if ((parser_.flags & F_CONTENT_LENGTH) != 0 && parser_.content_length > limits_.max_body_bytes) {
    return fail(413, "request body too large");
  }
  return 0;
}

int RequestParser::on_headers_complete(llhttp_t* p) {
  RequestParser& r = self(p);
  r.headers_done_ = true;
  r.spans_.views(r.head_, r.headers_);
  if (const int err = r.check_head(); err != 0) return err;
  bool expect_continue = false;
  for (const Header& h : r.headers_) {
    if (core::iequals(h.name, "expect") && core::iequals(h.value, "100-continue")) {
      expect_continue = true;
    }
  }
  const std::uint8_t minor = llhttp_get_http_minor(p);
  const bool has_body =
      (p->flags & F_CHUNKED) != 0 || ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > 0);
  r.continue_pending_ = expect_continue && has_body;

  Request& req = r.request_;
  req.method = to_method(llhttp_get_method(p));
  req.method_name = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
  req.http_minor = minor;
  req.target = std::string_view(r.head_).substr(0, r.url_len_);
  const auto q = req.target.find('?');
  req.path = origin_path(req.target.substr(0, q));
  req.query = q == std::string_view::npos ? std::string_view{} : req.target.substr(q + 1);
  req.headers = r.headers_;
  req.peer = r.peer_;
  return 0;
}

int RequestParser::on_chunk_header(llhttp_t* p) {
  RequestParser& r = self(p);
  // A chunk that announces more than the body may still hold is refused before it arrives.
  if (p->content_length > r.limits_.max_body_bytes - r.body_.size()) {
    return r.fail(413, "request body too large");
  }
  return 0;
}

int RequestParser::on_body(llhttp_t* p, const char* at, std::size_t len) {
  RequestParser& r = self(p);
  if (r.body_.size() + len > r.limits_.max_body_bytes) return r.fail(413, "request body too large");
  r.body_.append(at, len);
  return 0;
}

int RequestParser::on_message_complete(llhttp_t* p) {
  RequestParser& r = self(p);
  r.request_.body = r.body_;
  // An Upgrade or CONNECT request is answered, but we never switch protocols: close after it.
  r.request_.keep_alive = llhttp_should_keep_alive(p) != 0 && llhttp_get_upgrade(p) == 0;
  r.paused_ = true;
  return HPE_PAUSED;
}

RequestParser::Step RequestParser::map_errno(llhttp_errno_t err, const char* data,
                                             std::size_t len) {
  if (err == HPE_OK) return Step{State::need_more, len};
  const char* pos = llhttp_get_error_pos(&parser_);
  const std::size_t consumed = (pos != nullptr && pos >= data && pos <= data + len)
                                   ? static_cast<std::size_t>(pos - data)
                                   : len;
  if (err == HPE_PAUSED && paused_) return Step{State::request, consumed};
  if (err == HPE_PAUSED_H2_UPGRADE) {  // "PRI * HTTP/2.0": the HTTP/2 connection preface
    error_status_ = 505;
    error_reason_ = "HTTP/2 is not supported: use HTTP/1.1";
    return Step{State::error, consumed};
  }
  if (err == HPE_PAUSED_UPGRADE) {
    // After an Upgrade request (answered, with the connection closing) llhttp reports the
    // upgrade; whatever follows is not HTTP we will read.
    return Step{State::need_more, len};
  }
  if (error_status_ == 0) {  // not one of our own limits (fail() sets those)
    // llhttp's reason for a well-formed HTTP/x.y it does not know (1.2, 3.0), as opposed to a
    // malformed one ("Expected CRLF after version", "Invalid minor version").
    const bool unknown_version =
        err == HPE_INVALID_VERSION &&
        std::string_view(llhttp_get_error_reason(&parser_)) == "Invalid HTTP version";
    if (unknown_version) {
      error_status_ = 505;
      error_reason_ = "HTTP version not supported: use HTTP/1.1";
      return Step{State::error, consumed};
    }
    const MethodLine method =
        err == HPE_INVALID_METHOD ? classify_method(line_start_) : MethodLine::not_token;
    if (method == MethodLine::undecided) {
      method_pending_ = true;  // 400 or 501: the next bytes say (llhttp has stopped already)
      return Step{State::need_more, len};
    }
    refuse(method == MethodLine::token);
  }
  return Step{State::error, consumed};
}

void RequestParser::refuse(bool unknown_method) {
  error_status_ = unknown_method ? 501 : 400;
  error_reason_ = unknown_method ? "method not implemented" : "malformed request";
}

RequestParser::Step RequestParser::feed(const char* data, std::size_t len) {
  if (error_status_ != 0) return Step{State::error, 0};
  if (paused_) return Step{State::request, 0};  // next() has not been called
  if (line_start_.size() < kLineStartBytes) {   // the first bytes of this request, for 400 vs 501
    line_start_.append(data, std::min(len, kLineStartBytes - line_start_.size()));
  }
  if (method_pending_) {
    const MethodLine method = classify_method(line_start_);
    if (method == MethodLine::undecided) return Step{State::need_more, len};
    refuse(method == MethodLine::token);
    return Step{State::error, 0};
  }
  folding_.begin_input(data, len);
  const llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  folding_.end_input();
  return map_errno(err, data, len);
}

RequestParser::Step RequestParser::finish() {
  if (error_status_ != 0) return Step{State::error, 0};
  if (paused_) return Step{State::request, 0};
  if (method_pending_) {  // the request line ended inside an unknown method
    refuse(false);
    return Step{State::error, 0};
  }
  const llhttp_errno_t err = llhttp_finish(&parser_);
  if (err == HPE_OK) return Step{State::need_more, 0};
  return map_errno(err, nullptr, 0);
}

void RequestParser::next() {
  line_start_.clear();
  trailer_bytes_ = 0;
  field_name_len_ = 0;
  folding_.reset();
  head_.clear();
  body_.clear();
  url_len_ = 0;
  spans_.clear();
  headers_.clear();
  started_ = false;
  headers_done_ = false;
  continue_pending_ = false;
  method_pending_ = false;
  request_ = Request{};
  if (paused_) {
    paused_ = false;
    if (llhttp_get_errno(&parser_) == HPE_PAUSED_UPGRADE) {
      llhttp_resume_after_upgrade(&parser_);
    } else {
      llhttp_resume(&parser_);
    }
  }
}

bool RequestParser::take_continue() {
  const bool pending = continue_pending_;
  continue_pending_ = false;
  return pending;
}

}  // namespace rl::http
