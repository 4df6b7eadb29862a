-- Secrets from a CI job: share credentials with every project of a team.
--
--   lua5.4 examples/ci_secrets.lua TEAM_ID NAME [NAME ...]
--
-- sets each team secret NAME to the value of the environment variable NAME,
-- creating it or updating it, and prints what it did (never a value). With
-- no arguments it runs a demonstration on the session's team.
local paperspace = require "paperspace"

local client = paperspace.new { user_agent = "ci-secrets" }

local team_id, values = arg[1], {}
if team_id then
  for i = 2, #arg do
    local value = os.getenv(arg[i])
    if value == nil then
      io.stderr:write("environment variable ", arg[i], " is not set\n")
      os.exit(2)
    end
    values[arg[i]] = value
  end
else
  local session = assert(client:get_session())
  team_id = session.team.id
  values = { DATABASE_URL = "postgres://ci:pw@db/ci", DEPLOY_TOKEN = "tok-123", REGISTRY_PASSWORD = "pw" }
end

local team = client:team(team_id)
local names = {}
for name in pairs(values) do names[#names + 1] = name end
table.sort(names)

local failed = 0
for _, name in ipairs(names) do
  local secret, created = team:set_secret(name, values[name])
  if secret then
    print(string.format("%-8s %s", created and "created" or "updated", name))
  else
    failed = failed + 1
    io.stderr:write(string.format("failed   %s: %s\n", name, tostring(created)))
  end
end

-- Run it twice and every secret is "updated": set_secret is idempotent.
local count = 0
for _ in team:each_secret() do count = count + 1 end
print(string.format("team %s now has %d secrets", team_id, count))
client:close()
os.exit(failed == 0 and 0 or 1)
