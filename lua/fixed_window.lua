-- Fixed window, the twin of lib/limiter/fixed_window.cpp.
-- KEYS[1]: the counter hash {s = window start ms, c = count}
-- ARGV: limit, window_ms, cost [, now_ms]
-- Returns {allowed (0/1), remaining, used, reset_ms, retry_after_ms}.
local limit = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = now_ms(4)
local start = t - t % w

local state = redis.call('HMGET', KEYS[1], 's', 'c')
local count = 0
-- Within the window its first decision opened (start and expiry set then, a count of digits
-- stored), a decision only adds to the count: one cheap HINCRBY instead of HSET + PEXPIRE.
local opened = tonumber(state[1]) == start and counted(state[2])
if opened then count = tonumber(state[2]) end

local need = math.max(cost, 1)
local allowed = need <= limit and count <= limit - need
if allowed and cost > 0 then
  count = count + cost
  if opened then
    redis.call('HINCRBY', KEYS[1], 'c', cost)
  else
    redis.call('HSET', KEYS[1], 's', start, 'c', count)
    redis.call('PEXPIRE', KEYS[1], start + w - t)
  end
end
local retry = 0
if not allowed then
  if need <= limit then retry = start + w - t else retry = w end
end
return {allowed and 1 or 0, math.max(0, limit - count), count, start + w, retry}
