// Response serialisation.
#include "http/response.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "core/text.h"

namespace rl::http {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
  }
}

void ResponseWriter::status(int code) {
  status_ = code;
  out_.append("HTTP/1.1 ");
  core::append_int(out_, code);
  out_.push_back(' ');
  out_.append(reason_phrase(code));
  out_.append("\r\n");
}

void ResponseWriter::require_status() const {
  if (status_ == 0) {
    std::fputs("rld: bug: a response header was written before its status line\n", stderr);
    std::abort();
  }
}

void ResponseWriter::header(std::string_view name, std::string_view value) {
  require_status();
  out_.append(name);
  out_.append(": ");
  for (char c : value) {  // never let a value break the header block
    out_.push_back((c == '\r' || c == '\n') ? ' ' : c);
  }
  out_.append("\r\n");
}

void ResponseWriter::header(std::string_view name, std::int64_t value) {
  require_status();
  out_.append(name);
  out_.append(": ");
  core::append_int(out_, value);
  out_.append("\r\n");
}

void ResponseWriter::body(std::string_view content_type, std::string_view body) {
  if (!content_type.empty()) header("Content-Type", content_type);
  header("Content-Length", static_cast<std::int64_t>(body.size()));
  header("Date", date_);
  if (!keep_alive_) {
    header("Connection", "close");
  } else if (http10_) {
    header("Connection", "keep-alive");
  }
  out_.append("\r\n");
  if (!head_) out_.append(body);
}

std::string_view DateCache::get(std::int64_t unix_seconds) {
  if (unix_seconds != second_) {
    second_ = unix_seconds;
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    len_ = std::strftime(text_, sizeof text_, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  }
  return {text_, len_};
}

}  // namespace rl::http
