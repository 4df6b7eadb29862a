-- Auditing admins: who can administer a team, and removing admin rights
-- from anyone not on an allow list.
--
--   lua5.4 examples/audit_admins.lua [TEAM_ID] [--allow a@x.com,b@x.com] [--apply]
--
-- Without --apply it only reports what it would change.
local paperspace = require "paperspace"

local team_id, allow, apply = nil, nil, false
local i = 1
while arg[i] do
  if arg[i] == "--apply" then
    apply = true
  elseif arg[i] == "--allow" then
    i = i + 1
    allow = {}
    for email in (arg[i] or ""):gmatch("[^,]+") do allow[email] = true end
  else
    team_id = arg[i]
  end
  i = i + 1
end

local client = paperspace.new { user_agent = "audit-admins" }
if not team_id then
  local session, err = client:get_session()
  if not session then error(err and tostring(err) or "nobody is logged in") end
  team_id = session.team.id
end

local members, err = client:team(team_id):members { order_by = "email" }
if not members then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

local admins = {}
for _, m in ipairs(members) do
  if m.isAdmin then admins[#admins + 1] = m end
end
print(string.format("team %s: %d members, %d admins", team_id, #members, #admins))
for _, m in ipairs(admins) do
  local allowed = allow == nil or allow[m.email]
  print(string.format("  %-30s %s", m.email, allowed and "ok" or "NOT ALLOWED"))
  if not allowed and apply then
    local ok, e = m:set_admin(false)
    print(ok and "    admin rights removed" or ("    failed: " .. tostring(e)))
  end
end
client:close()
