--- A team: its members and its secrets. `client:team(id)` makes one without
-- a request; every method below makes the requests it needs.
--
--     local team = client:team("t1")
--     for member in team:each_member() do print(member.email, member.isAdmin) end
--     team:set_secret("DATABASE_URL", url)
--
-- @classmod paperspace.team

local core = require "paperspace.core"
local errors = require "paperspace.errors"
local member_metatable = require "paperspace.member"
local secret_metatable = require "paperspace.secret"

local Team = {}
Team.__index = Team
Team.__name = "paperspace.team"

local team = {}

-- Raises unless method `name` was called on a team.
local function check_self(self, name)
  errors.check_self(self, Team, "team", name)
end

local check_arg = errors.check_arg
local bad_argument = errors.bad_argument

local SET_SECRETS_OPTIONS = { on_done = true }

--- Makes the team object (used by `client:team`).
-- @local
function team.new(client, id)
  local t = setmetatable({ id = id, client = client }, Team)
  -- One metatable per team and kind: the objects it makes stay plain tables
  -- of the API's fields, and find their team through it.
  t._metatables = { member = member_metatable(t), secret = secret_metatable(t) }
  return t
end

--- Whether a decoded item is a JSON object: a table with no array part
-- (lua-cjson decodes an empty array and an empty object alike).
-- @local
function team.is_object(item)
  return type(item) == "table" and item[1] == nil
end

--- The error for an item of a list that is not a JSON object.
-- @local
function team.not_an_object(kind, item)
  local what = item == core.null and "null" or type(item) == "table" and "array" or type(item)
  return errors.new { kind = "invalid_response",
                      message = string.format("a %s in the list is a JSON %s, not an object", kind, what) }
end

--- Gives the API's decoded `value` (an object, or a list of them when
-- `is_list`) the methods of `kind` ("member" or "secret").
-- @local
-- @treturn table|nil the value
-- @treturn[opt] table an error object when an item is not an object
function team.wrap(t, kind, value, is_list)
  local mt = t._metatables[kind]
  if type(value) ~= "table" then return value end
  if not is_list then return setmetatable(value, mt) end
  -- One C loop: a list of 10,000 members would otherwise cost as many calls.
  local bad = core.set_metatables(value, mt)
  if bad then return nil, team.not_an_object(kind, value[bad]) end
  return value
end

--- Every member of the team, across all pages.
-- @tparam[opt] table opts `limit`, `order_by` (`"userId"`, `"email"`), `order`
-- (`"asc"`, `"desc"`), and per-call options
-- @treturn {paperspace.member,...}|nil
-- @treturn[opt] table the error object
function Team:members(opts)
  check_self(self, "members")
  return self.client:list_team_members(self.id, opts)
end

--- Iterates over the members, fetching pages as the loop goes: a loop that
-- breaks early makes no further requests. A failure raises the error object.
-- @tparam[opt] table opts as for `members`
-- @treturn function
function Team:each_member(opts)
  check_self(self, "each_member")
  return self.client:each_team_member(self.id, opts)
end

--- Makes a member an admin, or not, by user id, without listing first.
-- @param user_id
-- @tparam boolean is_admin
-- @treturn paperspace.member|nil
-- @treturn[opt] table the error object
function Team:update_member(user_id, is_admin)
  check_self(self, "update_member")
  check_arg(is_admin, "boolean", 2, "update_member", "is_admin")
  return self.client:update_team_member(self.id, user_id, { isAdmin = is_admin })
end

--- Removes a member from the team by user id.
-- @param user_id
-- @treturn true|nil
-- @treturn[opt] table the error object
function Team:remove_member(user_id)
  check_self(self, "remove_member")
  return self.client:remove_team_member(self.id, user_id)
end

--- Every secret of the team (names and dates: values are never returned).
-- @tparam[opt] table opts `limit`, `order_by` (`"name"`, `"dtCreated"`), `order`
-- @treturn {paperspace.secret,...}|nil
-- @treturn[opt] table the error object
function Team:secrets(opts)
  check_self(self, "secrets")
  return self.client:list_team_secrets(self.id, opts)
end

--- Iterates over the secrets, page by page. A failure raises the error object.
-- @tparam[opt] table opts as for `secrets`
-- @treturn function
function Team:each_secret(opts)
  check_self(self, "each_secret")
  return self.client:each_team_secret(self.id, opts)
end

--- One secret, by name.
-- @tparam string name
-- @treturn paperspace.secret|nil
-- @treturn[opt] table the error object (`kind == "not_found"` when there is none)
function Team:secret(name)
  check_self(self, "secret")
  return self.client:get_team_secret(self.id, name)
end

--- Creates a secret; fails with `kind == "conflict"` when it exists.
-- @tparam string name
-- @tparam string value
-- @treturn paperspace.secret|nil
-- @treturn[opt] table the error object
function Team:create_secret(name, value)
  check_self(self, "create_secret")
  check_arg(value, "string", 2, "create_secret", "value")
  return self.client:create_team_secret(self.id, { name = name, value = value })
end

--- Sets a secret: updates it when it exists, creates it otherwise.
-- @tparam string name
-- @tparam string value
-- @treturn paperspace.secret|nil
-- @treturn[opt] boolean|table `true` when it was created; or the error object
function Team:set_secret(name, value)
  check_self(self, "set_secret")
  check_arg(value, "string", 2, "set_secret", "value")
  local client = self.client
  local secret, err = client:update_team_secret(self.id, name, { value = value })
  if secret then return secret, false end
  if err.kind ~= "not_found" then return nil, err end
  secret, err = client:create_team_secret(self.id, { name = name, value = value })
  if secret then return secret, true end
  if err.kind ~= "conflict" then return nil, err end
  -- Created by someone else in between: ours is the latest value.
  secret, err = client:update_team_secret(self.id, name, { value = value })
  if secret then return secret, false end
  return nil, err
end

-- Splits gather's results for `names` into name -> ok(value, second) for
-- the calls that succeeded, and name -> error object (nil when none).
local function by_name(names, results, ok)
  local done, failed = {}, nil
  for i, name in ipairs(names) do
    local value, second = results[i][1], results[i][2]
    if value then
      done[name] = ok(value, second)
    else
      failed = failed or {}
      failed[name] = second
    end
  end
  return done, failed
end

--- Gets several secrets at once, concurrently.
-- @tparam {string,...} names
-- @treturn table name -> secret, for the ones found
-- @treturn table|nil name -> error object, for the others (nil when none)
function Team:get_secrets(names)
  check_self(self, "get_secrets")
  if type(names) ~= "table" then
    bad_argument(1, "get_secrets", "a list of names expected, got " .. type(names))
  end
  local calls = {}
  for i, name in ipairs(names) do
    calls[i] = { "get_team_secret", self.id, core.check_name(name, "get_secrets", "names[" .. i .. "]", 1) }
  end
  return by_name(names, self.client:gather(calls), function(secret) return secret end)
end

--- Sets several secrets at once, concurrently: each is updated when it
-- exists and created otherwise. The fast way to sync a CI job's environment.
--
--     local done, failed = team:set_secrets { DATABASE_URL = url, DEPLOY_TOKEN = token }
--     for name, how in pairs(done) do print(how, name) end   --> created/updated NAME
--
-- @tparam table values name -> value (strings)
-- @tparam[opt] table opts `on_done`: called as each name is done, with
-- `(name, "created" or "updated")` or `(name, nil, err)`, to show progress
-- @treturn table name -> `"created"` or `"updated"`, for the ones set
-- @treturn table|nil name -> error object, for the others (nil when none)
function Team:set_secrets(values, opts)
  check_self(self, "set_secrets")
  if type(values) ~= "table" then
    bad_argument(1, "set_secrets", "a table of name = value expected, got " .. type(values))
  end
  errors.check_options(opts, 2, "set_secrets", SET_SECRETS_OPTIONS)
  local on_done = opts and opts.on_done
  if on_done ~= nil and type(on_done) ~= "function" then
    bad_argument(2, "set_secrets", "opts.on_done must be a function, got " .. type(on_done))
  end
  local names = {}
  for name, value in pairs(values) do
    if type(name) ~= "string" then
      bad_argument(1, "set_secrets", string.format("a table of name = value expected, got the key %s, "
                                                   .. "a %s; get_secrets takes a list", tostring(name),
                                                   type(name)))
    end
    core.check_name(name, "set_secrets", "a name", 1)
    if type(value) ~= "string" then
      bad_argument(1, "set_secrets", string.format("the value of %s must be a string, got %s",
                                                   tostring(name), type(value)))
    end
    names[#names + 1] = name
  end
  table.sort(names)
  local calls = {}
  for i, name in ipairs(names) do
    calls[i] = function()
      local secret, created = self:set_secret(name, values[name])
      if on_done then
        if secret then on_done(name, created and "created" or "updated") else on_done(name, nil, created) end
      end
      return secret, created
    end
  end
  return by_name(names, self.client:gather(calls), function(_, created)
    return created and "created" or "updated"
  end)
end

--- Deletes a secret by name.
-- @tparam string name
-- @treturn true|nil
-- @treturn[opt] table the error object
function Team:delete_secret(name)
  check_self(self, "delete_secret")
  return self.client:delete_team_secret(self.id, name)
end

function Team:__tostring()
  return "paperspace.team(" .. self.id .. ")"
end

return team
