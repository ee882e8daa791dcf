-- wrk script: GET a random key out of N pre-loaded keys (not one hot key).
-- Usage: wrk ... -s get.lua URL -- N PREFIX
--   URL    base, e.g. http://127.0.0.1:18091/v1/default
--   N      number of keys (PREFIX00000 .. PREFIX{N-1}, zero-padded to 5 digits)
--   PREFIX key prefix, e.g. "kv-"
-- The Authorization header comes from wrk -H. Each thread gets its own seed.
local n, prefix, base
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter * 7919 + os.time())
end

function init(args)
  n = tonumber(args[1]) or 10000
  prefix = args[2] or "kv-"
  base = wrk.path
  if base:sub(-1) ~= "/" then base = base .. "/" end
  math.randomseed(seed or os.time())
end

function request()
  return wrk.format("GET", string.format("%s%s%05d", base, prefix, math.random(0, n - 1)))
end
