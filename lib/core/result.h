// Result<T>: the value of an operation that can fail in an expected way (I/O, untrusted input,
// config, Redis). Errors are values with a category and a human message; exceptions are for
// impossible states only. A small stand-in for std::expected until the project moves to C++23.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace rl::core {

enum class Errc {
  invalid_argument,  // the caller's input is wrong: names what and why
  not_found,
  conflict,     // already exists, or still in use
  unavailable,  // a dependency (store, network) cannot answer now
  timeout,
  io,
  internal,
  overloaded,  // this process's own limit (too much in flight): nothing is wrong elsewhere
};

struct Error {
  Errc code = Errc::internal;
  std::string message;
};

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->checked(); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->checked(); }

  const Error& error() const {
    if (ok()) std::abort();  // asking a success for its error is a programming error
    return std::get<1>(v_);
  }

 private:
  T& checked() {
    if (!ok()) std::abort();  // reading the value of a failure is a programming error
    return std::get<0>(v_);
  }
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit by design

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    if (!failed_) std::abort();
    return error_;
  }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace rl::core
