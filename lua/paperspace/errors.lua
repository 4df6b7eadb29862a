--- Error objects.
-- Every runtime failure of a call returns `nil, err`, where `err` is a table
-- with this module's metatable. Its fields:
--
-- * `kind`: `bad_request` (400), `authentication` (401), `permission_denied`
--   (403), `not_found` (404), `conflict` (409), `unprocessable` (422),
--   `rate_limited` (429), `server_error` (5xx), `http` (any other status),
--   `timeout`, `connection`, `tls` or `invalid_response`
-- * `status`: the HTTP status, when a response came
-- * `message`: what went wrong, in words
-- * `code`: the API's own code (`"NOT_FOUND"`), from an error body
-- * `request_id`: the `x-request-id` of the response
-- * `method`, `url`, `path`: the request (never with the API key)
-- * `body`: the decoded error body, when it was JSON; `headers`: the response's
-- * `retryable`: whether trying again could succeed; `attempts`: how many were made
--
-- `tostring(err)` reads in one line:
-- `paperspace: 404 not_found: Secret not found (GET /teams/t1/secrets/X, request req-1)`.
-- @module paperspace.errors

local core = require "paperspace.core"

local errors = {}

-- Every module of the library loads this one: the core learns here where
-- the library's files are, to report a wrong argument at the first caller
-- outside them.
core.set_library_dir(debug.getinfo(1, "S").source)

local Error = core.error_metatable
Error.__index = {}
Error.__name = "paperspace.error"

--- Whether `v` is an error object of this library.
-- @param v any value
-- @treturn boolean
function errors.is_error(v)
  return getmetatable(v) == Error
end

--- Makes an error object from a table of fields (`kind` and `message` at least).
-- @tparam table fields
-- @treturn table the same table, now an error object
function errors.new(fields)
  assert(type(fields.kind) == "string" and type(fields.message) == "string",
         "an error needs a kind and a message")
  return setmetatable(fields, Error)
end

--- Raises a programmer error unless `self` is an object of `class` (one
-- whose metatable's `__index` is `class`): a method called with a dot, say.
-- @param self the value the method got as `self`
-- @tparam table class the methods
-- @tparam string kind what to call the object in the message: `"team"`
-- @tparam string name the method
-- @treturn table the object's metatable
function errors.check_self(self, class, kind, name)
  local mt = getmetatable(self)
  if mt ~= class and (type(mt) ~= "table" or mt.__index ~= class) then -- a client's or a team's is the class
    core.raise("paperspace: call " .. kind .. ":" .. name .. "(...) with a colon")
  end
  return mt
end

--- Raises a programmer error at the caller's line, as `luaL_argerror` does:
-- `bad argument #1 to 'gather' (calls must be a table, got nil)`.
-- The core writes the message, for its own checks and the Lua layer's alike.
-- @function bad_argument
-- @tparam integer pos the argument's position
-- @tparam string fname the function or method
-- @tparam string message what is wrong with it
errors.bad_argument = core.bad_argument

--- Raises a programmer error, at the caller's line, unless `opts` is nil
-- or a table whose keys are all options in `known`.
-- @param opts the argument
-- @tparam integer pos its position
-- @tparam string fname the function or method
-- @tparam table known option name -> true
function errors.check_options(opts, pos, fname, known)
  if opts == nil then return end
  if type(opts) ~= "table" then
    errors.bad_argument(pos, fname, "opts must be a table, got " .. type(opts))
  end
  for k in pairs(opts) do
    if not known[k] then errors.bad_argument(pos, fname, "unknown option opts." .. tostring(k)) end
  end
end

--- Raises a programmer error, at the caller's line, unless `value` has
-- type `want`: `bad argument #2 to 'set_secret' (value must be a string, got nil)`.
-- @param value the argument
-- @tparam string want its type
-- @tparam integer pos its position
-- @tparam string name the method
-- @tparam string what the argument's name
function errors.check_arg(value, want, pos, name, what)
  if type(value) ~= want then
    errors.bad_argument(pos, name, what .. " must be a " .. want .. ", got " .. type(value))
  end
end

local ESCAPES = { ["\r"] = "\\r", ["\n"] = "\\n", ["\t"] = "\\t" }

--- `s` with every control byte (CR, LF, ESC, BEL...) written as an escape
-- (`\r`, `\27`): strings a server sent (a message, a request id) must not
-- move a terminal's cursor, colour it, or forge a log line.
-- @tparam string s
-- @treturn string
function errors.escape(s)
  if not s:find("[%c\127]") then return s end
  return (s:gsub("[%c\127]", function(c) return ESCAPES[c] or "\\" .. c:byte() end))
end

--- Whether the error is of kind `kind`: `err:is("not_found")`.
-- @tparam table err the error object
-- @tparam string kind
-- @treturn boolean
function Error.__index.is(err, kind)
  return err.kind == kind
end

function Error.__tostring(err)
  local head = err.status and (err.status .. " " .. err.kind) or err.kind
  local where = {}
  if err.method and err.path then where[#where + 1] = err.method .. " " .. err.path end
  if err.request_id then where[#where + 1] = "request " .. err.request_id end
  if err.attempts and err.attempts > 1 then where[#where + 1] = err.attempts .. " attempts" end
  local tail = #where > 0 and (" (" .. table.concat(where, ", ") .. ")") or ""
  return errors.escape("paperspace: " .. head .. ": " .. tostring(err.message) .. tail)
end

return errors
