--- Client configuration: defaults, environment variables and checks.
-- The one owner of the options of `paperspace.new`: `resolve` makes the
-- whole configuration, every default included, and the C core only reads
-- it. The core checks what it alone can tell is safe to send: strings with
-- NUL, CR or LF (which could forge a header or a request line), a base URL
-- that is not http(s) or has a query, and timeouts (by the rule it applies
-- to a call's own `timeout` too).
-- @module paperspace.config

local core = require "paperspace.core"

local config = {}

--- The production API.
config.DEFAULT_BASE_URL = "https://api.paperspace.com/v1"

--- Defaults of the options of `paperspace.new` (besides `api_key` and
-- `base_url`, from the environment, `user_agent`, built by `user_agent`,
-- and `max_host_connections`, which follows `max_concurrency`).
config.defaults = {
  timeout = 60,
  connect_timeout = 10,
  max_retries = 2,
  max_response_bytes = 32 * 1024 * 1024,
  tls_verify = true,
  max_pages = 1000,
  max_concurrency = 8,
}

--- The most requests in flight at once, and connections to the host.
config.MAX_CONCURRENCY = 1000

--- Each option of `paperspace.new` and the type it takes.
config.options = {
  api_key = "string", base_url = "string", timeout = "number", connect_timeout = "number",
  max_retries = "number", user_agent = "string", max_response_bytes = "number",
  tls_verify = "boolean", ca_file = "string", logger = "function",
  max_concurrency = "number", max_host_connections = "number", max_pages = "number",
  loop = "table", schedule = "function",
}

--- Options a single call accepts in its `opts` table, and lists on top.
config.call_options = { timeout = true, connect_timeout = true, max_retries = true, raw = true }
config.list_options = { limit = true, after = true, order_by = true, order = true, max_pages = true }

--- The User-Agent: library, Lua and libcurl versions, then the user's suffix.
-- @tparam[opt] string suffix
-- @treturn string
function config.user_agent(suffix)
  local lua = type(jit) == "table" and jit.version or _VERSION
  local ua = string.format("lua-paperspace/%s (%s; libcurl/%s)", core.version, lua,
                           core.curl_version)
  if suffix and suffix ~= "" then ua = ua .. " " .. suffix end
  return ua
end

--- Raises unless `n` is nil or a whole number of retries from 0 to 100.
-- @param n the value given
-- @tparam string where what to name in the message
function config.check_retries(n, where)
  if n ~= nil and (type(n) ~= "number" or n < 0 or n ~= math.floor(n) or n > 100) then
    core.raise(where .. ": max_retries must be an integer from 0 to 100")
  end
end

--- Raises unless `n` is nil, a whole number of pages from 1, or `math.huge`.
-- @param n the value given
-- @tparam string where what to name in the message
function config.check_max_pages(n, where)
  if n ~= nil and (type(n) ~= "number" or n < 1 or (n ~= math.floor(n) and n ~= math.huge)) then
    core.raise(where .. ": max_pages must be an integer >= 1, or math.huge")
  end
end

-- Raises unless `n` is nil or a whole number from 1 to MAX_CONCURRENCY.
local function check_concurrency(n, key)
  if n ~= nil and not (n >= 1 and n <= config.MAX_CONCURRENCY and n == math.floor(n)) then
    core.raise(string.format("paperspace.new: %s must be an integer from 1 to %d", key,
                             config.MAX_CONCURRENCY))
  end
end

local warned_tls = false

--- Warns once per process, on stderr, that TLS verification is off.
function config.warn_tls()
  if warned_tls then return end
  warned_tls = true
  io.stderr:write("paperspace: WARNING: tls_verify = false: the server's certificate is not ",
                  "checked, so anyone on the network path can read the API key\n")
end

--- Resolves the options given to `paperspace.new` into a full configuration.
-- Raises on an unknown option or a value of the wrong type, naming it.
-- @tparam[opt] table opts
-- @tparam[opt] function getenv defaults to `os.getenv`
-- @treturn table
function config.resolve(opts, getenv)
  getenv = getenv or os.getenv
  if opts ~= nil and type(opts) ~= "table" then
    core.raise("paperspace.new: options must be a table, got " .. type(opts))
  end
  opts = opts or {}
  for k, v in pairs(opts) do
    local want = config.options[k]
    if not want then
      core.raise(string.format("paperspace.new: unknown option '%s'", tostring(k)))
    elseif type(v) ~= want then
      core.raise(string.format("paperspace.new: %s must be a %s, got %s", k, want, type(v)))
    end
  end
  config.check_retries(opts.max_retries, "paperspace.new")
  config.check_max_pages(opts.max_pages, "paperspace.new")
  check_concurrency(opts.max_concurrency, "max_concurrency")
  check_concurrency(opts.max_host_connections, "max_host_connections")
  local bytes = opts.max_response_bytes
  if bytes ~= nil and (bytes ~= bytes or bytes < 1) then -- NaN too
    core.raise("paperspace.new: max_response_bytes must be a positive number")
  end
  local cfg = {}
  for k, v in pairs(config.defaults) do cfg[k] = v end
  for k, v in pairs(opts) do cfg[k] = v end
  cfg.max_host_connections = cfg.max_host_connections or cfg.max_concurrency
  local key = opts.api_key
  if key == nil then key = getenv("PAPERSPACE_API_KEY") end
  if key == "" then key = nil end
  cfg.api_key = key
  local url = opts.base_url
  if url == nil then url = getenv("PAPERSPACE_API_URL") end
  if url == nil or (url == "" and opts.base_url == nil) then url = config.DEFAULT_BASE_URL end
  cfg.base_url = url
  cfg.user_agent = config.user_agent(opts.user_agent)
  if cfg.tls_verify == false then config.warn_tls() end
  return cfg
end

return config
