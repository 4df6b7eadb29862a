--- A team member: the API's fields (`userId`, `email`, `isAdmin`, `teamId`)
-- with methods. Members come from `team:members()`, `team:each_member()` and
-- `client:list_team_members()`.
-- @classmod paperspace.member

local errors = require "paperspace.errors"

local Member = {}

-- The member's team; raises unless method `name` was called on a member.
local function team_of(m, name)
  return errors.check_self(m, Member, "member", name).team
end

--- The team this member was listed from.
-- @treturn paperspace.team
function Member:team()
  return team_of(self, "team")
end

--- Makes the member an admin of the team, or not.
-- @tparam boolean is_admin
-- @treturn paperspace.member|nil the member, updated; or nil
-- @treturn[opt] table the error object
function Member:set_admin(is_admin)
  local team = team_of(self, "set_admin")
  errors.check_arg(is_admin, "boolean", 1, "set_admin", "is_admin")
  local updated, err = team.client:update_team_member(team.id, self.userId, { isAdmin = is_admin })
  if not updated then return nil, err end
  for k, v in pairs(updated) do self[k] = v end
  return self
end

--- Removes the member from the team.
-- @treturn true|nil
-- @treturn[opt] table the error object
function Member:remove()
  local team = team_of(self, "remove")
  return team.client:remove_team_member(team.id, self.userId)
end

local function member_tostring(m)
  return string.format("paperspace.member(%s %s%s)", tostring(m.userId), tostring(m.email),
                       m.isAdmin == true and " admin" or "")
end

--- The metatable that makes members of `team`.
-- @local
return function(team)
  return { __index = Member, __tostring = member_tostring, __name = "paperspace.member", team = team }
end
