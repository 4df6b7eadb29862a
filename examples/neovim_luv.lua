-- A libuv program (a luv script, luvit) that shows the current session
-- without ever waiting on the network: the client runs its calls from the
-- libuv loop, event-driven (paperspace.new{loop = uv}), so nothing polls;
-- a 10 ms timer stands for a UI that must keep drawing.
--
--   lua5.4 examples/with_emulator.lua examples/neovim_luv.lua
--
-- In Neovim the loop is already running: pass vim.uv (or vim.loop) as
-- `loop`, never call uv.run(), and see examples/nvim/ for a plugin.
if rawget(_G, "vim") then
  error("examples/neovim_luv.lua runs its own libuv loop: in Neovim, see examples/nvim/", 0)
end
local uv = require "luv"
local paperspace = require "paperspace"

local client = paperspace.new { user_agent = "neovim-example", loop = uv }

local frames, pending = 0, 0
local function show(what) print(string.format("[frame %3d] %s", frames, what)) end

-- The UI: redraws every 10 ms, whatever the network does.
local ui = uv.new_timer()
ui:start(0, 10, function() frames = frames + 1 end)

local function start(what, fn, on_done)
  pending = pending + 1
  client:spawn(fn, function(...)
    pending = pending - 1
    on_done(...)
    if pending == 0 then ui:stop() end -- nothing left: let the loop end
  end)
  show("started " .. what)
end

start("get_session", function() return client:get_session() end, function(session, err)
  if not session then return show("no session: " .. tostring(err)) end
  show(string.format("session: %s on team %s", session.user.email, session.team.id))
  -- A call started from a callback: the members of the session's team.
  start("members", function() return client:team(session.team.id):members() end,
        function(members, merr)
          if not members then return show("members failed: " .. tostring(merr)) end
          local admins = 0
          for _, m in ipairs(members) do if m.isAdmin then admins = admins + 1 end end
          show(string.format("%d members, %d admins", #members, admins))
        end)
end)

uv.run() -- returns when the timer is stopped and no call is in flight
print(string.format("the UI timer ran %d frames while the calls were in flight", frames))
ui:close()
client:close()
uv.run() -- lets libuv finish closing the handles before the program ends
