--- A call's record: what its attempts got on the wire, as
-- `client:last_response()` and `opts.raw` show it, and the details an error
-- the library makes of a response gets from it.
--
-- The core's record of one attempt is an array, cheap to make for every
-- call: `{status, elapsed, method, url, path, head}`, `head` being the
-- response's header block (scrubbed), read only when asked for.
-- @module paperspace.record
-- @local

local core = require "paperspace.core"

local record = {}

--- The `x-request-id` of the attempt with record `r`, or nil.
-- @tparam table r the core's record
-- @treturn string|nil
function record.request_id(r)
  return r[6] and core.header(r[6], "x-request-id")
end

local request_id = record.request_id

--- Gives an error the library made of a response it refused after the core
-- took it (a page that makes no sense) the details of that response, from
-- the call's own record, as the core's errors have, and the attempts that
-- page took.
-- @tparam table err the error object
-- @tparam[opt] table r the core's record of the attempt
-- @tparam[opt] integer attempts
-- @treturn table err
function record.annotate(err, r, attempts)
  if r then
    err.status, err.request_id, err.method, err.url, err.path = r[1], request_id(r), r[3], r[4], r[5]
  end
  err.attempts = attempts or err.attempts
  return err
end

--- What `last_response()` and `opts.raw` show of a call's record.
-- @tparam table r the core's record
-- @tparam boolean with_headers whether to parse the header block
-- @treturn table
function record.public(r, with_headers)
  return { status = r[1], request_id = request_id(r), elapsed = r[2], method = r[3], url = r[4],
           path = r[5], headers = with_headers and r[6] and core.headers(r[6]) or nil }
end

local ERROR_WIRE_FIELDS = { "status", "headers", "request_id", "method", "url", "path" }

--- The record `opts.raw` asks for: what the last attempt got on the wire
-- (`r`, the core's for that attempt), with the attempts and the time the
-- whole call took. A failure's comes from its error, already scrubbed of
-- secrets.
-- @tparam[opt] table r the core's record of the last attempt
-- @tparam[opt] table err the call's error
-- @tparam integer attempts
-- @tparam number started `core.now()` as the call began
-- @tparam[opt] integer pages for a list
-- @treturn table
function record.wire(r, err, attempts, started, pages)
  local w
  if err then
    w = {}
    for _, k in ipairs(ERROR_WIRE_FIELDS) do w[k] = err[k] end
  else
    w = r and record.public(r, true) or {}
  end
  w.attempts, w.retries = attempts, attempts - 1
  w.elapsed = core.now() - started
  w.pages = pages
  return w
end

return record
