// Tests of core/result.h: Result<T> carries a value or an Error, Status a success or an Error.
#include "core/result.h"

#include <memory>
#include <string>

#include <doctest/doctest.h>

using rl::core::Errc;
using rl::core::Error;
using rl::core::make_error;
using rl::core::Result;
using rl::core::Status;

namespace {

Result<int> half(int n) {
  if (n % 2 != 0) return make_error(Errc::invalid_argument, "odd: " + std::to_string(n));
  return n / 2;
}

}  // namespace

TEST_CASE("a successful Result holds its value") {
  const Result<int> r = half(8);
  CHECK(r.ok());
  CHECK(static_cast<bool>(r));
  CHECK(r.value() == 4);
  CHECK(*r == 4);
}

TEST_CASE("a failed Result holds its error code and message") {
  const Result<int> r = half(7);
  CHECK_FALSE(r.ok());
  CHECK_FALSE(static_cast<bool>(r));
  CHECK(r.error().code == Errc::invalid_argument);
  CHECK(r.error().message == "odd: 7");
}

TEST_CASE("a Result gives access to members and lets its value be moved out") {
  Result<std::string> r = std::string("hello");
  CHECK(r->size() == 5);
  r->append("!");
  CHECK(*r == "hello!");
  Result<std::unique_ptr<int>> owner = std::make_unique<int>(3);
  std::unique_ptr<int> taken = std::move(owner).value();
  REQUIRE(taken != nullptr);
  CHECK(*taken == 3);
}

TEST_CASE("a default Status is a success") {
  const Status s;
  CHECK(s.ok());
  CHECK(static_cast<bool>(s));
}

TEST_CASE("a Status made from an Error is a failure with that error") {
  const Status s = make_error(Errc::unavailable, "redis down");
  CHECK_FALSE(s.ok());
  CHECK(s.error().code == Errc::unavailable);
  CHECK(s.error().message == "redis down");
}

TEST_CASE("an Error defaults to an internal error") {
  const Error e;
  CHECK(e.code == Errc::internal);
  CHECK(e.message.empty());
}
