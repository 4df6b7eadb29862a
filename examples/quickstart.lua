-- Quick start: the session, the team's members and its secrets.
--
-- Against the bundled emulator:  make quickstart
-- Against the real API:          PAPERSPACE_API_KEY=... lua5.4 examples/quickstart.lua
-- (it creates, updates and deletes a secret named QUICKSTART_TOKEN).
local paperspace = require "paperspace"

local function fail(err)
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

-- The key comes from PAPERSPACE_API_KEY, the URL from PAPERSPACE_API_URL.
local client = paperspace.new { user_agent = "quickstart" }

local session, err = client:get_session()
if err then fail(err) end
if not session then
  print("Nobody is logged in with this key.")
  return
end
print(string.format("Logged in as %s on team %s (%s)", session.user.email, session.team.name,
                    session.team.id))

local team = client:team(session.team.id)

print("\nMembers:")
local admins = 0
for member in team:each_member() do -- pages are fetched as the loop goes
  print("  " .. tostring(member))
  if member.isAdmin then admins = admins + 1 end
end
print(string.format("  (%d admins)", admins))

print("\nSecrets:")
local secret = team:create_secret("QUICKSTART_TOKEN", "first value") or fail("could not create")
print("  created  " .. tostring(secret)) -- never prints the value
assert(secret:update("second value"))
print("  updated  " .. secret.name)
for s in team:each_secret() do print("  listed   " .. tostring(s)) end

local _, missing = team:secret("NO_SUCH_SECRET")
print("  missing  " .. tostring(missing)) -- nil, err: err.kind == "not_found"

assert(client:delete_team_secret(session.team.id, "QUICKSTART_TOKEN"))
print("  deleted  QUICKSTART_TOKEN")

client:close()
