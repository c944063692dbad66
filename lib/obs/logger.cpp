// JSON line formatting for the Logger; a thread-local buffer keeps it allocation-free once warm.
#include "obs/logger.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <ctime>
#include <unistd.h>

#include "core/text.h"

namespace rl::obs {

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "info";
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
    if (core::iequals(text, to_string(l))) return l;
  }
  if (core::iequals(text, "warning")) return LogLevel::warn;
  if (core::iequals(text, "critical")) return LogLevel::error;
  return std::nullopt;
}

void StderrSink::write(std::string_view line) {
  std::lock_guard lock(mutex_);  // several workers log: lines never interleave
  while (!line.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere left to report a logging failure
    line.remove_prefix(static_cast<std::size_t>(n));
  }
}

void MemorySink::write(std::string_view line) {
  std::lock_guard lock(mutex_);
  text_.append(line);
}

std::string MemorySink::text() const {
  std::lock_guard lock(mutex_);
  return text_;
}

static void append_timestamp(std::string& out, core::WallTime now) {
  const std::int64_t ms = core::to_unix_ms(now);
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf, n);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
  out.append(frac);
}

static void append_value(std::string& out, const LogField::Value& value) {
  if (const auto* s = std::get_if<std::string_view>(&value)) {
    core::append_json_string(out, *s);
  } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
    core::append_int(out, *i);
  } else if (const auto* u = std::get_if<std::uint64_t>(&value)) {
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *u);
    out.append(buf, end);
  } else if (const auto* d = std::get_if<double>(&value)) {
    if (!std::isfinite(*d)) {
      out.append("null");
    } else {
      char buf[32];
      const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d);
      out.append(buf, end);
    }
  } else {
    out.append(std::get<bool>(value) ? "true" : "false");
  }
}

void Logger::log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (!enabled(level)) return;
  thread_local std::string line;
  line.clear();
  line.append("{\"ts\":\"");
  append_timestamp(line, clock_.now());
  line.append("\",\"level\":\"");
  line.append(to_string(level));
  line.append("\",\"event\":");
  core::append_json_string(line, event);
  for (const auto& field : fields) {
    line.push_back(',');
    core::append_json_string(line, field.key);
    line.push_back(':');
    append_value(line, field.value);
  }
  line.append("}\n");
  sink_.write(line);
}

}  // namespace rl::obs
