-- An event loop that never waits on the network: the way a Neovim plugin
-- (or any libuv program) shows the current session without freezing the
-- editor. Calls are started with client:spawn and moved forward by
-- client:poll(0) from a libuv timer; a second timer stands for the UI.
--
--   lua5.4 examples/with_emulator.lua examples/neovim_luv.lua
--
-- In Neovim, use vim.uv (or vim.loop) instead of require "luv", and update
-- a buffer or the statusline in the callbacks.
local uv = require "luv"
local paperspace = require "paperspace"

local client = paperspace.new { user_agent = "neovim-example" }

local frames, pending = 0, 0
local function show(what) print(string.format("[frame %3d] %s", frames, what)) end

-- The UI: redraws every 10 ms, whatever the network does.
local ui = uv.new_timer()
ui:start(0, 10, function() frames = frames + 1 end)

-- The network: a non-blocking turn of the client's loop every 5 ms.
local net = uv.new_timer()
net:start(0, 5, function()
  if client:poll(0) == 0 and pending == 0 then
    ui:stop()
    net:stop()
  end
end)

local function start(what, fn, on_done)
  pending = pending + 1
  client:spawn(fn, function(...)
    pending = pending - 1
    on_done(...)
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

uv.run()
ui:close()
net:close()
uv.run()
print(string.format("the UI timer ran %d frames while the calls were in flight", frames))
client:close()
