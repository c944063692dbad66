#include "core/ring_queue.h"

#include <memory>
#include <string>

#include <doctest/doctest.h>

using rl::core::RingQueue;

TEST_CASE("a ring queue is first in, first out across growth and wrap-around") {
  RingQueue<int> q;
  CHECK(q.empty());
  int next_in = 0;
  int next_out = 0;
  // Pushes run ahead of pops, so the ring wraps while it grows from 16 to 64 slots.
  for (int round = 0; round < 40; ++round) {
    q.push_back(next_in++);
    q.push_back(next_in++);
    CHECK(q.front() == next_out);
    q.pop_front();
    ++next_out;
    CHECK(q.back() == next_in - 1);
  }
  CHECK(q.size() == 40);
  for (std::size_t i = 0; i < q.size(); ++i)
    CHECK(q[i] == next_out + static_cast<int>(i));
  while (!q.empty()) {
    CHECK(q.front() == next_out++);
    q.pop_front();
  }
  CHECK(next_out == next_in);
}

TEST_CASE("a popped slot lets go of what it held") {
  RingQueue<std::shared_ptr<int>> q;
  auto held = std::make_shared<int>(7);
  q.push_back(held);
  CHECK(held.use_count() == 2);
  q.pop_front();
  CHECK(held.use_count() == 1);
}

TEST_CASE("swap exchanges the queues whole") {
  RingQueue<std::string> a;
  RingQueue<std::string> b;
  a.push_back("x");
  a.push_back("y");
  a.swap(b);
  CHECK(a.empty());
  REQUIRE(b.size() == 2);
  CHECK(b.front() == "x");
  CHECK(b.back() == "y");
  a.push_back("z");
  CHECK(a.front() == "z");
}
