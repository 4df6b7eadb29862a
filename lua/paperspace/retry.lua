--- When to try a request again, and how long to wait first.
-- Pure functions of an error and the response's headers, so that every rule
-- here is tested as a table of cases.
-- @module paperspace.retry

local retry = {}

--- Statuses that say "try again": the request timed out, was rate limited,
-- or met a server or gateway failure.
retry.RETRY_STATUSES = { [408] = true, [429] = true, [500] = true, [502] = true, [503] = true,
                         [504] = true }

--- Statuses after which even a POST is safe to send again: the server
-- refused it without acting on it.
retry.REFUSED_STATUSES = { [429] = true, [503] = true }

--- The longest wait a server may ask for (seconds); a longer one is ignored.
retry.MAX_SERVER_DELAY = 60

--- The backoff: `min(BASE * 2^n, MAX) * (1 - JITTER * random)` before retry n.
retry.BASE, retry.MAX, retry.JITTER = 0.5, 8, 0.25

local IDEMPOTENT = { GET = true, PUT = true, PATCH = true, DELETE = true, HEAD = true }

local function header(err, name)
  return err.headers and err.headers[name]
end

--- Whether a failed attempt is worth repeating.
-- @tparam table err the error of the attempt
-- @tparam string method the request's method
-- @treturn boolean
function retry.should_retry(err, method)
  local says = header(err, "x-should-retry")
  if says == "true" then return true end
  if says == "false" then return false end
  local transport = err.kind == "timeout" or err.kind == "connection"
  if IDEMPOTENT[method] then
    return transport or (err.status ~= nil and retry.RETRY_STATUSES[err.status] == true)
  end
  -- Not idempotent (POST): only when the server provably did nothing.
  if transport then return err.request_sent == false end
  return err.status ~= nil and retry.REFUSED_STATUSES[err.status] == true
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8,
                 Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- Seconds since the epoch of a UTC date (days from civil, proleptic Gregorian).
local function epoch(y, m, d, hh, mm, ss)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + hh * 3600 + mm * 60 + ss
end

--- Parses an HTTP date (RFC 9110: IMF-fixdate, RFC 850 or asctime) into
-- seconds since the epoch.
-- @tparam string s
-- @treturn number|nil
function retry.parse_http_date(s)
  local d, mon, y, hh, mm, ss = s:match("^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d then
    d, mon, y, hh, mm, ss = s:match("^%a+, (%d%d)%-(%a%a%a)%-(%d%d) (%d%d):(%d%d):(%d%d) GMT$")
    if y then y = tonumber(y) + (tonumber(y) < 70 and 2000 or 1900) end
  end
  if not d then
    mon, d, hh, mm, ss, y = s:match("^%a%a%a (%a%a%a) +(%d%d?) (%d%d):(%d%d):(%d%d) (%d%d%d%d)$")
  end
  if not d or not MONTHS[mon] then return nil end
  d, y, hh, mm, ss = tonumber(d), tonumber(y), tonumber(hh), tonumber(mm), tonumber(ss)
  if d < 1 or d > 31 or hh > 23 or mm > 59 or ss > 60 then return nil end
  return epoch(y, MONTHS[mon], d, hh, mm, ss)
end

--- How long the server asked to wait: `retry-after-ms`, else `Retry-After`
-- in seconds or as an HTTP date. Only a wait from 0 to 60 seconds counts.
-- @tparam[opt] table headers lower-case names
-- @tparam[opt] number now seconds since the epoch (default `os.time()`)
-- @treturn number|nil seconds
function retry.server_delay(headers, now)
  if not headers then return nil end
  local ms = headers["retry-after-ms"]
  local delay = ms and ms:match("^%s*%d+%.?%d*%s*$") and tonumber(ms) / 1000
  if delay == nil and headers["retry-after"] then
    local value = headers["retry-after"]
    delay = value:match("^%s*%d+%.?%d*%s*$") and tonumber(value)
    if delay == nil then
      local at = retry.parse_http_date(value)
      delay = at and at - (now or os.time())
    end
  end
  if delay and delay == delay and delay >= 0 and delay <= retry.MAX_SERVER_DELAY then
    return delay
  end
  return nil
end

--- The wait before retry `n` (0 for the first retry).
-- @tparam integer n
-- @tparam[opt] table headers the failed attempt's response headers
-- @tparam[opt] number random a number in [0, 1) (default `math.random()`)
-- @tparam[opt] number now seconds since the epoch, for HTTP dates
-- @treturn number seconds
function retry.delay(n, headers, random, now)
  local server = retry.server_delay(headers, now)
  if server then return server end
  local backoff = math.min(retry.BASE * 2 ^ n, retry.MAX)
  return backoff * (1 - retry.JITTER * (random or math.random()))
end

return retry
