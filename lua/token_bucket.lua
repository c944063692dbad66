-- Token bucket (GCRA-equivalent), the twin of lib/limiter/token_bucket.cpp.
-- KEYS[1]: the bucket hash {k = tokens scaled by window_ms, u = last update ms}
-- ARGV: limit, window_ms, cost [, now_ms]
-- Returns {allowed (0/1), remaining, used, reset_ms, retry_after_ms}.
local limit = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = now_ms(4)
local capacity = limit * w

local state = redis.call('HMGET', KEYS[1], 'k', 'u')
local tokens, updated = capacity, tonumber(state[2])
if updated then
  local elapsed = math.min(math.max(t - updated, 0), w)
  tokens = math.min(capacity, tonumber(state[1]) + elapsed * limit)
else
  updated = t
end
-- Refill resumes from the last update, later than t when the clock stepped backwards.
updated = math.max(updated, t)

local need = math.max(cost, 1)
local allowed = need <= limit and tokens >= need * w
if allowed and cost > 0 then
  tokens = tokens - cost * w
  redis.call('HSET', KEYS[1], 'k', tokens, 'u', updated)
  redis.call('PEXPIRE', KEYS[1], math.max(1, updated - t + cdiv(capacity - tokens, limit)))
end

local reset
if limit == 0 then reset = t + w else reset = updated + cdiv(capacity - tokens, limit) end
local retry = 0
if not allowed then
  if need <= limit then retry = (updated - t) + cdiv(need * w - tokens, limit) else retry = w end
end
return {allowed and 1 or 0, idiv(tokens, w), cdiv(capacity - tokens, w), reset, retry}
