-- Sliding window counter, the twin of lib/limiter/sliding_window.cpp.
-- KEYS[1]: the counter hash {s = window start ms, c = current count, p = previous count}
-- ARGV: limit, window_ms, cost [, now_ms]
-- Returns {allowed (0/1), remaining, used, reset_ms, retry_after_ms}.
local limit = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = now_ms(4)
local start = t - t % w

local state = redis.call('HMGET', KEYS[1], 's', 'c', 'p')
local stored_start = tonumber(state[1])
local current, previous = tonumber(state[2]) or 0, tonumber(state[3]) or 0
-- Within the window whose first decision set start, previous count and expiry (with a count of
-- digits stored), a decision only adds to the count: one HINCRBY instead of HSET + PEXPIRE.
local opened = stored_start == start and counted(state[2])
if stored_start ~= start then
  if stored_start == start - w then previous = current else previous = 0 end
  current = 0
end

local elapsed = t - start
local capacity = limit * w
local used = current * w + previous * (w - elapsed)
local need = math.max(cost, 1)
local allowed = need <= limit and used + need * w <= capacity
if allowed and cost > 0 then
  current = current + cost
  used = used + cost * w
  if opened then
    redis.call('HINCRBY', KEYS[1], 'c', cost)
  else
    redis.call('HSET', KEYS[1], 's', start, 'c', current, 'p', previous)
    redis.call('PEXPIRE', KEYS[1], start + 2 * w - t)
  end
end

local remaining = 0
if used < capacity then remaining = idiv(capacity - used, w) end
local reset = t
if current > 0 then reset = start + 2 * w elseif previous > 0 then reset = start + w end

local retry = 0
if not allowed then
  if need > limit then
    retry = w
  else
    -- Later in this window, as the previous window's weight decays ...
    local room = (limit - current - need) * w
    local at = w
    if room >= 0 and previous > 0 then at = w - idiv(room, previous) end
    if at < w then
      retry = at - elapsed
    else
      -- ... or in the next one, where this window's count decays instead.
      local next_at = 0
      if current > 0 then next_at = math.max(0, w - idiv((limit - need) * w, current)) end
      retry = (w - elapsed) + next_at
    end
  end
end
return {allowed and 1 or 0, remaining, cdiv(used, w), reset, retry}
