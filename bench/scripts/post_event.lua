-- POST a shipped event to /api/v1/orders/<PREFIX>-<n>/events for n cycling over a pool of orders,
-- each with its own Idempotency-Key. Arguments after `--`: prefix, pool size, API key, run nonce.
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local report = require("report")

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

local prefix, pool, key, nonce
local n = 0
local sent = 0

function init(args)
  prefix = args[1]
  pool = tonumber(args[2])
  key = args[3]
  nonce = args[4] or tostring(os.time())
  n = ((thread_id or 1) * 104729) % pool
end

function request()
  n = n % pool + 1
  sent = sent + 1
  local path = string.format("/api/v1/orders/%s-%06d/events", prefix, n)
  local body = string.format(
    '{"type": "shipped", "tracking": {"carrier": "DHL", "number": "JJD%d%08d"}}',
    thread_id or 1, sent)
  local headers = {
    ["Host"] = wrk.host,
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
    ["Idempotency-Key"] = string.format("bench-%s-%d-%d", nonce, thread_id or 1, sent),
  }
  return wrk.format("POST", path, headers, body)
end

done = report.done
