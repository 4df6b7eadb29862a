-- Run inside `nvim --headless` by spec/neovim_spec.lua: one spawned call to
-- a slow route, no client:poll, and a 10 ms timer counting ticks meanwhile.
-- Prints one RESULT line and quits.
local uv = vim.loop
local paperspace = require "paperspace"

local client = paperspace.new { loop = uv, schedule = vim.schedule, timeout = 10 }
local ticks = 0
local timer = uv.new_timer()
timer:start(10, 10, function() ticks = ticks + 1 end)
local started = uv.hrtime()
local at_spawn
client:spawn(function() return client:get_session() end, function(session, err)
  local elapsed = (uv.hrtime() - started) / 1e9
  timer:stop()
  timer:close()
  -- Scheduled: the Neovim API may be called here.
  vim.api.nvim_buf_set_lines(0, 0, -1, false, { session and session.user.email or tostring(err) })
  io.stdout:write(string.format("RESULT email=%s ticks=%d elapsed=%.3f\n",
                                vim.api.nvim_buf_get_lines(0, 0, 1, false)[1], ticks - at_spawn,
                                elapsed))
  client:close()
  vim.cmd "qa!"
end)
at_spawn = ticks
io.stdout:write(string.format("SPAWNED after %.3f s\n", (uv.hrtime() - started) / 1e9))
