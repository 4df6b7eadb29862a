--- `:checkhealth paperspace` in Neovim: whether the C core loads in
-- Neovim's LuaJIT, the library, libcurl and TLS versions, and the settings
-- a client made with no options would use. The API key is never shown.
-- @module paperspace.health

local health = {}
-- luacheck: read globals vim

-- Neovim 0.10 has vim.health.start/ok/...; 0.7 to 0.9 the `health` module's
-- report_* functions.
local function reporter()
  local h = vim.health
  if h and h.start then return h.start, h.ok, h.warn, h.error, h.info end
  h = require "health"
  return h.report_start, h.report_ok, h.report_warn, h.report_error, h.report_info
end

--- Runs the checks.
function health.check()
  local start, ok, warn, error, info = reporter()
  start("paperspace")
  local loaded, core = pcall(require, "paperspace.core")
  if not loaded then
    error("the C core paperspace.core does not load: " .. tostring(core),
          { "build it for LuaJIT: luarocks --lua-version=5.1 make, or make LUA_PC=luajit",
            "and put its folder on package.cpath" })
    return
  end
  ok("lua-paperspace " .. core.version .. " (" .. (jit and jit.version or _VERSION) .. ")")
  ok("libcurl " .. core.curl_version)
  if core.ssl_version ~= "" then
    ok("TLS: " .. core.ssl_version)
  else
    error("TLS: libcurl was built without TLS; https:// URLs will fail")
  end
  local uv = vim.uv or vim.loop
  if uv then
    ok("event loop: libuv " .. uv.version_string() .. " (paperspace.new{loop = vim.uv or vim.loop})")
  else
    warn("no vim.uv or vim.loop: spawned calls need client:poll")
  end
  local config = require "paperspace.config"
  local resolved, cfg = pcall(config.resolve, {})
  if not resolved then
    error("settings: " .. tostring(cfg))
    return
  end
  if cfg.api_key then
    ok("API key: set ($PAPERSPACE_API_KEY)")
  else
    warn("API key: not set", { "export PAPERSPACE_API_KEY, or pass api_key to paperspace.new" })
  end
  info("base URL: " .. cfg.base_url)
end

return health
