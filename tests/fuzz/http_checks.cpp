// The response stream reader behind check_exchange(), and the parser replay it is compared to.
#include "fuzz/http_checks.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/text.h"
#include "fuzz/check.h"

namespace rl::fuzz {
namespace {

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

struct Head {
  int status = 0;
  std::string_view content_type;
  std::size_t content_length = 0;
  int content_lengths = 0;
  bool close = false;
};

// Reads one status line and header block from `in`, advancing it past them.
Head read_head(std::string_view& in, std::string_view all) {
  Head h;
  const auto line_end = in.find("\r\n");
  require(line_end != std::string_view::npos, "a response has a complete status line", all);
  const std::string_view line = in.substr(0, line_end);
  require(line.size() > 13 && line.starts_with("HTTP/1.1 ") && line[12] == ' ',
          "a status line is HTTP/1.1 NNN REASON", line);
  const auto status = core::parse_int64(line.substr(9, 3));
  require(status && *status >= 100 && *status <= 599, "a status is 100-599", line);
  h.status = static_cast<int>(*status);
  require(std::none_of(line.begin(), line.end(), [](char c) { return c == '\0'; }),
          "a status line holds no NUL", line);
  in.remove_prefix(line_end + 2);
  for (;;) {
    const auto end = in.find("\r\n");
    require(end != std::string_view::npos, "a header block ends with an empty line", all);
    const std::string_view field = in.substr(0, end);
    in.remove_prefix(end + 2);
    if (field.empty()) return h;
    const auto colon = field.find(": ");
    require(colon != std::string_view::npos && colon > 0, "a header line is NAME: VALUE", field);
    const std::string_view name = field.substr(0, colon), value = field.substr(colon + 2);
    require(std::all_of(name.begin(), name.end(), is_token_char), "a header name is a token",
            field);
    require(value.find('\0') == std::string_view::npos &&
                value.find('\r') == std::string_view::npos &&
                value.find('\n') == std::string_view::npos,
            "a header value holds no NUL, CR or LF", field);
    if (core::iequals(name, "content-length")) {
      const auto n = core::parse_int64(value);
      require(n && *n >= 0, "Content-Length is a number", field);
      h.content_length = static_cast<std::size_t>(*n);
      ++h.content_lengths;
    } else if (core::iequals(name, "content-type")) {
      h.content_type = value;
    } else if (core::iequals(name, "connection")) {
      h.close = core::iequals(value, "close");
    }
    require(!core::iequals(name, "transfer-encoding"), "responses are not chunked", field);
  }
}

ParsedRequest copy_of(const http::Request& r) {
  ParsedRequest p{0,
                  std::string(r.method_name),
                  std::string(r.target),
                  std::string(r.path),
                  std::string(r.query),
                  std::string(r.body),
                  {},
                  r.keep_alive};
  for (const auto& h : r.headers)
    p.headers.emplace_back(h.name, h.value);
  return p;
}

}  // namespace

std::vector<ParsedRequest> parse_requests(std::string_view bytes, const http::ParserLimits& limits,
                                          const std::vector<std::size_t>& pieces) {
  std::vector<ParsedRequest> out;
  http::RequestParser parser(limits);
  std::size_t next_piece = 0;
  std::string_view rest = bytes;
  while (!rest.empty()) {
    std::size_t size = rest.size();
    if (!pieces.empty())
      size = std::min(size, std::max<std::size_t>(1, pieces[next_piece++ % pieces.size()]));
    std::string_view piece = rest.substr(0, size);
    rest.remove_prefix(size);
    while (!piece.empty()) {
      const auto step = parser.feed(piece.data(), piece.size());
      require(step.consumed <= piece.size(), "the parser consumes at most what it was fed");
      piece.remove_prefix(step.consumed);
      if (step.state == http::RequestParser::State::need_more) {
        require(piece.empty(), "a parser that needs more has consumed everything");
        break;
      }
      if (step.state == http::RequestParser::State::error) {
        ParsedRequest e;
        e.error_status = parser.error_status();
        require(e.error_status >= 400 && e.error_status <= 599, "a parse error is a 4xx or 5xx");
        out.push_back(std::move(e));
        return out;
      }
      out.push_back(copy_of(parser.request()));
      if (!out.back().keep_alive) return out;
      parser.next();
    }
  }
  if (parser.in_request()) {
    const auto step = parser.finish();  // a request that ends at EOF; else no answer at all
    if (step.state == http::RequestParser::State::request) out.push_back(copy_of(parser.request()));
  }
  return out;
}

std::string describe(const std::vector<ParsedRequest>& requests) {
  std::string out;
  for (const auto& r : requests) {
    if (r.error_status != 0) {
      out += "error " + std::to_string(r.error_status) + "\n";
      continue;
    }
    out += r.method + " " + r.target.substr(0, 80) + " (target " + std::to_string(r.target.size()) +
           " bytes, " + std::to_string(r.headers.size()) + " headers, body " +
           std::to_string(r.body.size()) + " bytes" + (r.keep_alive ? ", keep-alive" : "") + ")\n";
  }
  return out;
}

std::vector<bool> expected_answers(std::string_view requests, const http::ParserLimits& limits) {
  std::vector<bool> out;
  for (const auto& r : parse_requests(requests, limits, {}))
    out.push_back(r.error_status == 0 && r.method == "HEAD");
  return out;
}

void check_exchange(std::string_view requests, std::string_view responses,
                    const http::ParserLimits& limits) {
  const std::vector<bool> head = expected_answers(requests, limits);
  std::string_view in = responses;
  std::size_t answers = 0;
  while (!in.empty()) {
    const Head h = read_head(in, responses);
    if (h.status < 200) {
      require(h.status == 100 && h.content_lengths == 0, "the only interim answer is 100 Continue",
              responses);
      continue;
    }
    require(answers < head.size(), "no more answers than requests", responses);
    require(h.status != 500, "no request makes rld fail (500)", responses);
    require(h.content_lengths == 1, "a response has exactly one Content-Length", responses);
    const std::size_t body_size = head[answers] ? 0 : h.content_length;
    require(in.size() >= body_size, "a body is as long as its Content-Length", responses);
    const std::string_view body = in.substr(0, body_size);
    in.remove_prefix(body_size);
    if (!head[answers] && h.content_type.starts_with("application/json")) {
      require(nlohmann::json::accept(body), "a JSON body is valid JSON", body);
    }
    ++answers;
    require(!h.close || in.empty(), "nothing follows a response that closes", responses);
  }
  require(head.empty() || answers > 0, "a complete request (or garbage) gets an answer", requests);
}

}  // namespace rl::fuzz
