--- A team secret: the API's fields (`name`, `dtCreated`) with methods. The API
-- never returns a secret's value, and nothing here prints one.
-- @classmod paperspace.secret

local errors = require "paperspace.errors"

local Secret = {}

-- The secret's team; raises unless method `name` was called on a secret.
local function team_of(s, name)
  return errors.check_self(s, Secret, "secret", name).team
end

--- The team that holds this secret.
-- @treturn paperspace.team
function Secret:team()
  return team_of(self, "team")
end

--- Replaces the secret's value.
-- @tparam string value
-- @treturn paperspace.secret|nil the secret, updated; or nil
-- @treturn[opt] table the error object
function Secret:update(value)
  local team = team_of(self, "update")
  errors.check_arg(value, "string", 1, "update", "value")
  local updated, err = team.client:update_team_secret(team.id, self.name, { value = value })
  if not updated then return nil, err end
  for k, v in pairs(updated) do self[k] = v end
  return self
end

--- Deletes the secret.
-- @treturn true|nil
-- @treturn[opt] table the error object
function Secret:delete()
  local team = team_of(self, "delete")
  return team.client:delete_team_secret(team.id, self.name)
end

local function secret_tostring(s)
  local created = type(s.dtCreated) == "string" and (", created " .. s.dtCreated) or ""
  return string.format("paperspace.secret(%s%s)", tostring(s.name), created)
end

--- The metatable that makes secrets of `team`.
-- @local
return function(team)
  return { __index = Secret, __tostring = secret_tostring, __name = "paperspace.secret", team = team }
end
