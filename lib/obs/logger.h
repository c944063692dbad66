// Structured logging: one JSON object per line, written whole to a LogSink (stderr in rld).
// Field names are stable (`event`, `request_id`, `user`, `tier`, `status`, `duration_us`, ...)
// because operators grep and ship them. Secrets are never passed in: callers log key ids only.
// Thread-safe; the level can be changed at run time (SIGHUP reload).
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/clock.h"

namespace rl::obs {

enum class LogLevel { debug, info, warn, error };

std::string_view to_string(LogLevel level);
std::optional<LogLevel> parse_log_level(std::string_view text);  // also accepts "warning"

class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void write(std::string_view line) = 0;  // one complete line, newline included
};

class StderrSink final : public LogSink {
 public:
  void write(std::string_view line) override;

 private:
  std::mutex mutex_;
};

// Keeps lines in memory, for tests.
class MemorySink final : public LogSink {
 public:
  void write(std::string_view line) override;
  std::string text() const;

 private:
  mutable std::mutex mutex_;
  std::string text_;
};

struct LogField {
  using Value = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string_view{v}) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view{v}) {}
  LogField(std::string_view k, std::int64_t v) : key(k), value(v) {}
  LogField(std::string_view k, int v) : key(k), value(std::int64_t{v}) {}
  LogField(std::string_view k, std::uint64_t v) : key(k), value(v) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
  std::string_view key;
  Value value;
};

class Logger {
 public:
  Logger(LogSink& sink, const core::Clock& clock, LogLevel level = LogLevel::info)
      : sink_(sink), clock_(clock), level_(level) {}

  bool enabled(LogLevel level) const { return level >= level_.load(std::memory_order_relaxed); }
  void set_level(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
  LogLevel level() const { return level_.load(std::memory_order_relaxed); }

  void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields);
  void debug(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::debug, event, fields);
  }
  void info(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::info, event, fields);
  }
  void warn(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::warn, event, fields);
  }
  void error(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::error, event, fields);
  }

 private:
  LogSink& sink_;
  const core::Clock& clock_;
  std::atomic<LogLevel> level_;
};

}  // namespace rl::obs
