--- When to try a request again, how long to wait first, and the loop of
-- attempts that applies it. The rules are pure functions of an error and the
-- response's headers, so that every one of them is tested as a table of
-- cases; `retry.run` makes the attempts.
-- @module paperspace.retry

local core = require "paperspace.core"
local errors = require "paperspace.errors"
local request_id = require("paperspace.record").request_id

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


-- Whether a failed attempt may have been carried out by the server anyway:
-- one lost in transit, or a 500, 502 or 504 (a gateway may have passed it
-- on). A 408, 429 or 503 is a refusal, made before acting.
local MAY_HAVE_ACTED = { [500] = true, [502] = true, [504] = true }
local function may_have_acted(err)
  if err.kind == "timeout" or err.kind == "connection" then return err.request_sent ~= false end
  return MAY_HAVE_ACTED[err.status] == true
end

-- A DELETE answered 404 after earlier attempts failed: if one of them may
-- have reached the server, it deleted it (success); if none could have, the
-- 404 stands, and the error says why.
local function after_earlier_delete(err, previous, acted)
  if acted then return true end
  err.retryable = false
  err.message = string.format("%s (an earlier attempt got %s, which cannot have deleted it)",
                              err.message, previous.status and (previous.status .. " " .. previous.kind)
                                or previous.kind)
  return nil, err
end

local function log_attempt(r, emit, op, attempt, value, err, retry_in)
  local record = { method = op.method, attempt = attempt }
  if value ~= nil then
    record.status, record.request_id, record.ms = r[1], request_id(r), r[2] * 1000
    record.path = r[5]
  else
    record.status, record.request_id, record.kind = err.status, err.request_id, err.kind
    record.ms, record.path = (err.elapsed or 0) * 1000, err.path
  end
  if retry_in then
    local decision = { level = "debug", retry_in = retry_in }
    for k, v in pairs(record) do decision[k] = decision[k] or v end
    emit(decision)
  end
  record.level = "info"
  emit(record)
end

--- The error of a call that user code run by it (a logger, say) cut short
-- by closing the client.
-- @tparam[opt] integer attempts
-- @treturn table the error object
function retry.closed_during(attempts)
  return errors.new { kind = "cancelled", message = "the client was closed during the call",
                      attempts = attempts }
end

local closed_during = retry.closed_during

--- One operation of `client`: attempts until it succeeds, fails in a way
-- not worth repeating, or has used its retries. Returns value, err,
-- attempts made, and the last attempt's record (its own, whatever other
-- calls user code makes meanwhile: the logger's, say).
-- @local
function retry.run(client, op, opts, ...)
  local max_retries = opts and opts.max_retries or client._config.max_retries
  local emit = client._log
  local sched = client._sched
  local task = sched:current() -- inside gather or spawn: start, do not block
  local previous, acted -- the last failed attempt; whether any may have acted
  for attempt = 1, max_retries + 1 do
    local value, err, record
    if task then
      value, err, record = sched:call(task, op.name, ...)
    else
      value, err, record = client._core:call(op.name, ...)
    end
    if value ~= nil then
      if emit then log_attempt(record, emit, op, attempt, value) end
      return value, nil, attempt, record
    end
    err.attempts = attempt
    if previous and op.method == "DELETE" and err.kind == "not_found" then
      if emit then log_attempt(record, emit, op, attempt, nil, err) end
      value, err = after_earlier_delete(err, previous, acted)
      return value, err, attempt, record
    end
    err.retryable = retry.should_retry(err, op.method)
    if not err.retryable or attempt > max_retries then
      if emit then log_attempt(record, emit, op, attempt, nil, err) end
      return nil, err, attempt, record
    end
    local delay = retry.delay(attempt - 1, err.headers)
    if emit then log_attempt(record, emit, op, attempt, nil, err, delay) end
    if client._closed then return nil, closed_during(attempt), attempt, record end
    if task then sched:sleep(task, delay) else core.sleep(delay) end
    previous, acted = err, acted or may_have_acted(err)
  end
end

return retry
