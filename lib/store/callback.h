// Completion callbacks for store operations. Like libuv requests: an operation that takes a
// callback always calls it exactly once — synchronously for the memory store, later (on the
// same loop thread) for Redis. Captures of up to two pointers fit std::function's inline
// storage, so the hot path allocates nothing.
#pragma once

#include <functional>

#include "core/result.h"

namespace rl::store {

template <class T>
using Callback = std::function<void(core::Result<T>)>;
using StatusCallback = std::function<void(core::Status)>;

}  // namespace rl::store
