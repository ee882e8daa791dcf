-- wrk script: PUT (update) a 1 KiB body to a random key out of N keys.
-- Usage: wrk ... -s put.lua URL -- N PREFIX [SIZE]
--   URL    base, e.g. http://127.0.0.1:18091/v1/default
--   N      number of keys (PREFIX00000 .. PREFIX{N-1}); they exist already, so every PUT replaces a value
--   PREFIX key prefix, e.g. "kv-"
--   SIZE   body size in bytes (default 1024); random bytes, made once per thread
-- wrk.format sets Content-Length; no Expect: 100-continue is sent. Authorization comes from wrk -H.
local n, prefix, base, body
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter * 7919 + os.time())
end

function init(args)
  n = tonumber(args[1]) or 10000
  prefix = args[2] or "kv-"
  local size = tonumber(args[3]) or 1024
  base = wrk.path
  if base:sub(-1) ~= "/" then base = base .. "/" end
  math.randomseed(seed or os.time())
  local bytes = {}
  for i = 1, size do bytes[i] = string.char(math.random(0, 255)) end
  body = table.concat(bytes)
  wrk.headers["Content-Type"] = "application/octet-stream"
end

function request()
  return wrk.format("PUT", string.format("%s%s%05d", base, prefix, math.random(0, n - 1)), nil, body)
end
