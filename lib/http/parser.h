// RequestParser: llhttp wrapped for a server connection. Feeds bytes, stops after each complete
// request so the caller can answer it before the next one is parsed (pipelining in order), and
// enforces the limits that keep a hostile client from making us allocate without bound: URL
// (414), header block and count (431), body (413, a chunk announcing more at once). On top of
// llhttp's strict mode it refuses what RFC 9112 lets a server refuse and what a proxy in front
// could read differently: obs-fold, empty field names, an invalid Host (400), transfer codings
// other than chunked (501), any version but HTTP/1.0 and 1.1 (505). Pure: no sockets, no event
// loop — fuzzable. Buffers are reused from one request to the next.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <llhttp.h>

#include "http/header_spans.h"
#include "http/line_folding.h"
#include "http/request.h"

namespace rl::http {

struct ParserLimits {
  std::size_t max_url_bytes = 8 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_headers = 100;
  std::size_t max_body_bytes = 64 * 1024;
};

class RequestParser {
 public:
  enum class State {
    need_more,  // everything fed was consumed; no complete request yet
    request,    // a complete request is ready: request(); then next()
    error,      // unusable input: answer error_status() and close
  };
  struct Step {
    State state = State::need_more;
    std::size_t consumed = 0;  // bytes of the input used; the rest belongs to later requests
  };

  explicit RequestParser(const ParserLimits& limits);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  Step feed(const char* data, std::size_t len);
  // The peer closed its sending side: completes a request that ends at EOF, if any.
  Step finish();

  const Request& request() const { return request_; }
  // Who sent what this parser reads; copied into every request.
  void set_peer(const Peer& peer) { peer_ = peer; }
  // Forget the current request and get ready for the next one.
  void next();

  // Bytes of the current request seen so far (0 between requests): a request is in progress.
  bool in_request() const { return started_; }
  bool headers_complete() const { return headers_done_; }
  // True once after headers that asked for "Expect: 100-continue" with a body to send.
  bool take_continue();

  int error_status() const { return error_status_; }
  std::string_view error_reason() const { return error_reason_; }

 private:
  static int on_message_begin(llhttp_t* p);
  static int on_url(llhttp_t* p, const char* at, std::size_t len);
  static int on_header_field(llhttp_t* p, const char* at, std::size_t len);
  static int on_header_value(llhttp_t* p, const char* at, std::size_t len);
  static int on_header_field_complete(llhttp_t* p);
  static int on_header_value_complete(llhttp_t* p);
  static int on_headers_complete(llhttp_t* p);
  static int on_chunk_header(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, std::size_t len);
  static int on_message_complete(llhttp_t* p);

  int fail(int status, const char* reason);
  int check_head();  // version, Host and transfer codings, once the head is complete
  bool add_header_bytes(std::size_t len);
  int add_trailer_bytes(std::size_t len);
  Step map_errno(llhttp_errno_t err, const char* data, std::size_t len);
  void refuse(bool unknown_method);  // 501 for an unknown method, else 400

  ParserLimits limits_;
  llhttp_settings_t settings_{};
  llhttp_t parser_{};
  static constexpr std::size_t kLineStartBytes = 40;
  std::string line_start_;  // the first bytes fed for the current request
  std::string head_;        // URL and header bytes of the current request
  std::string body_;
  std::size_t url_len_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::size_t field_name_len_ = 0;  // of the field being read
  LineFolding folding_;
  HeaderSpans spans_;
  std::vector<Header> headers_;
  bool started_ = false;
  bool headers_done_ = false;
  bool continue_pending_ = false;
  bool method_pending_ = false;  // llhttp refused the method; its end decides 400 or 501
  bool paused_ = false;
  int error_status_ = 0;
  const char* error_reason_ = "";
  Peer peer_;
  Request request_;
};

}  // namespace rl::http
