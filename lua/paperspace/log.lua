--- Logging: one line per attempt, never holding the key or a secret value.
--
-- Enabled by `PAPERSPACE_LOG=info` (one line per attempt) or `debug` (also
-- each retry decision), written to stderr; or by a `logger` function given
-- to `paperspace.new`, called as `logger(line, record)` where `record` has
-- `level`, `method`, `path`, `status`, `ms`, `attempt`, `request_id`,
-- `kind` and, on a retry, `retry_in` (seconds).
-- @module paperspace.log

local escape = require("paperspace.errors").escape

local log = {}

local LEVELS = { info = 1, debug = 2 }

local function stderr_logger(line)
  io.stderr:write(line, "\n")
end

--- The logging function for a client, or nil when logging is off.
-- @tparam[opt] function logger the user's
-- @tparam[opt] function getenv defaults to `os.getenv`
-- @treturn function|nil `emit(record)`
function log.new(logger, getenv)
  local level = LEVELS[((getenv or os.getenv)("PAPERSPACE_LOG") or ""):lower()]
  if logger == nil and level == nil then return nil end
  level = level or LEVELS.debug
  logger = logger or stderr_logger
  return function(record)
    if LEVELS[record.level] > level then return end
    logger(log.format(record), record)
  end
end

--- One line for a record: only the method, the path (ids and names, never
-- a body), the outcome and the timing.
-- @tparam table record
-- @treturn string
function log.format(record)
  local outcome = record.status and tostring(record.status) or record.kind or "-"
  if record.status and record.kind then outcome = outcome .. " " .. record.kind end
  local line = string.format("paperspace: %s %s %s %dms attempt=%d", record.method, record.path,
                             outcome, math.floor((record.ms or 0) + 0.5), record.attempt)
  if record.request_id then line = line .. " request_id=" .. record.request_id end
  if record.retry_in then line = line .. string.format(" retry_in=%.3fs", record.retry_in) end
  return escape(line)
end

return log
