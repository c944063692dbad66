-- One invalid API key (or admin key) from a client: counts it, and blocks the client once the
-- count passes the maximum. Both keys carry the client's hash tag (one Cluster slot).
-- KEYS[1]: rl:bad:{<client>} (counter, expires with the window)
-- KEYS[2]: rl:block:{<client>} (the block's reason, expires with the block)
-- ARGV: max_attempts, window_ms, block_ms, reason
-- Returns {attempts, blocked (0/1), block_ms_left}.
local max_attempts = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
local block_ms = tonumber(ARGV[3])

local left = redis.call('PTTL', KEYS[2])
if left > 0 then return {0, 1, left} end

local attempts = redis.call('INCR', KEYS[1])
if attempts == 1 then redis.call('PEXPIRE', KEYS[1], window_ms) end
if attempts > max_attempts then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[4], 'PX', block_ms)
  return {attempts, 1, block_ms}
end
return {attempts, 0, 0}
