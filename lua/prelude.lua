-- Prelude of every rl script (cmake/embed_lua.cmake puts it in front of each one).
-- Numbers in Redis' Lua are doubles; every value the scripts compute stays below 2^51
-- (limit x window_ms <= 2^50), so integer arithmetic on them is exact, and idiv() makes the
-- floor of a quotient exact too. The C++ twins in lib/limiter compute the same integers.

-- Milliseconds since the epoch: Redis' own clock, so instances with skewed clocks agree.
-- ARGV[now_index] (optional) replaces it, for the conformance tests only.
local function now_ms(now_index)
  local given = tonumber(ARGV[now_index])
  if given then return given end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- floor(a / b) for integers a >= 0, b > 0, exact.
local function idiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

-- ceil(a / b), 0 for a <= 0.
local function cdiv(a, b)
  if a <= 0 then return 0 end
  return idiv(a + b - 1, b)
end

-- True for a stored count HINCRBY can add to: digits only (a damaged field is rewritten whole).
local function counted(field)
  return field ~= nil and field ~= false and string.find(field, '^%d+$') ~= nil
end
