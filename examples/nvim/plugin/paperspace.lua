-- An example Neovim plugin on lua-paperspace: two commands that call the
-- API without freezing the editor.
--
--   :PaperspaceSession          who the API key logs in as
--   :PaperspaceSecrets [team]   the team's secrets (names and dates, never
--                               values) in a scratch buffer
--
-- The key comes from $PAPERSPACE_API_KEY (and the API from
-- $PAPERSPACE_API_URL, if set). Add this folder to 'runtimepath', with the
-- library installed for Neovim's LuaJIT (luarocks --lua-version=5.1).
if vim.g.loaded_paperspace then return end
vim.g.loaded_paperspace = true

local client -- made on first use, then shared by the commands

local function get_client()
  if not client then
    -- loop: calls run from Neovim's event loop; schedule: every on_done
    -- runs through vim.schedule, where the Neovim API may be called.
    client = require("paperspace").new {
      loop = vim.uv or vim.loop, schedule = vim.schedule, user_agent = "paperspace.nvim-example",
    }
  end
  return client
end

local function notify(msg, level)
  vim.notify("Paperspace: " .. msg, level or vim.log.levels.INFO)
end

local function scratch(name, lines)
  local buf = vim.fn.bufnr(name)
  if buf == -1 then
    buf = vim.api.nvim_create_buf(true, true)
    vim.api.nvim_buf_set_name(buf, name)
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.api.nvim_set_current_buf(buf)
end

vim.api.nvim_create_user_command("PaperspaceSession", function()
  local c = get_client()
  c:spawn(function() return c:get_session() end, function(session, err)
    if err then return notify(tostring(err), vim.log.levels.ERROR) end
    if not session then return notify("nobody is logged in", vim.log.levels.WARN) end
    notify(string.format("%s on team %s (%s)", session.user.email, session.team.name,
                         session.team.id))
  end)
end, { desc = "Show the Paperspace session of $PAPERSPACE_API_KEY" })

vim.api.nvim_create_user_command("PaperspaceSecrets", function(cmd)
  local c = get_client()
  c:spawn(function()
    local team_id = cmd.args ~= "" and cmd.args or nil
    if not team_id then
      local session, err = c:get_session()
      if not session then return nil, err or "nobody is logged in" end
      team_id = session.team.id
    end
    local secrets, err = c:team(team_id):secrets()
    return secrets and { team = team_id, secrets = secrets }, err
  end, function(found, err)
    if not found then return notify(tostring(err), vim.log.levels.ERROR) end
    local lines = { string.format("# %d secrets of team %s", #found.secrets, found.team) }
    for _, s in ipairs(found.secrets) do
      lines[#lines + 1] = string.format("%-32s %s", s.name, s.dtCreated or "")
    end
    scratch("paperspace://secrets/" .. found.team, lines)
  end)
end, { nargs = "?", desc = "List a team's Paperspace secrets (names only)" })
