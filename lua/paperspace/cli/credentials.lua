--- Where `paperspace` finds the API key.
--
-- In this order: `--api-key-file FILE`; `--profile NAME` (an entry of the
-- pspace CLI's `~/.paperspace/credentials.yml`); `$PAPERSPACE_API_KEY`; the
-- entry of `credentials.yml` named by `team:` in `~/.paperspace/config.yml`.
-- The YAML files are the official pspace CLI's:
--
--     # ~/.paperspace/config.yml
--     team: acme
--     # ~/.paperspace/credentials.yml
--     version: 1
--     keys:
--       acme: KEY
--       other-team: KEY
--
-- Errors name the file and what is wrong with it, never a key.
-- @module paperspace.cli.credentials

local credentials = {}

local ENOENT = 2

local function read_file(path)
  local f, err, code = io.open(path, "rb")
  if not f then return nil, err, code end
  local text, rerr = f:read("*a")
  f:close()
  if not text then return nil, path .. ": " .. tostring(rerr) end
  return text
end

-- A key as read from a file: without the blanks and line end around it,
-- and on one line.
local function clean_key(text, where)
  local key = text:match("^%s*(.-)%s*$")
  if key == "" then return nil, where .. " holds no key" end
  if key:find("[%c]") then return nil, where .. " holds more than one line; it must hold only the key" end
  return key
end

-- Loads a YAML file of the pspace CLI: nil, nil when it does not exist.
local function load_yaml(path)
  local text, err, code = read_file(path)
  if not text then
    if code == ENOENT then return nil, nil end
    return nil, "cannot read " .. tostring(err)
  end
  local lyaml = require "lyaml"
  local ok, doc = pcall(lyaml.load, text)
  if not ok then
    -- LibYAML's message gives the line and column, and quotes nothing read.
    return nil, path .. ": malformed YAML: " .. tostring(doc):gsub("%c", " ")
  end
  if doc == nil or doc == lyaml.null then doc = {} end
  if type(doc) ~= "table" or doc[1] ~= nil then
    return nil, path .. ": expected a YAML mapping at the top, got a "
      .. (type(doc) == "table" and "list" or type(doc))
  end
  return doc
end

local function credentials_path(home)
  return home .. "/.paperspace/credentials.yml"
end

-- The key of entry `name` of credentials.yml.
local function from_credentials(home, name, why)
  local path = credentials_path(home)
  local doc, err = load_yaml(path)
  if err then return nil, err end
  if not doc then return nil, path .. " does not exist (" .. why .. ")" end
  local keys = doc.keys
  if type(keys) ~= "table" then
    return nil, path .. ": expected `keys:`, a mapping of names to API keys"
  end
  local key = keys[name]
  if key == nil then
    local names = {}
    for k in pairs(keys) do
      if type(k) == "string" then names[#names + 1] = k end
    end
    table.sort(names)
    return nil, string.format("%s has no key named '%s' (%s; it has: %s)", path, name, why,
                              #names > 0 and table.concat(names, ", ") or "none")
  end
  if type(key) ~= "string" then
    return nil, string.format("%s: the key of '%s' must be a string", path, name)
  end
  return clean_key(key, string.format("%s: the entry '%s'", path, name))
end

--- Finds the API key.
-- @tparam table opts `api_key_file`, `profile` (from the command line),
-- `getenv` (default `os.getenv`)
-- @treturn string|nil the key
-- @treturn[opt] string where it came from (never the key); or, with nil, the
-- error (nil when no key is configured anywhere)
function credentials.find(opts)
  local getenv = opts.getenv or os.getenv
  if opts.api_key_file then
    local text, err = read_file(opts.api_key_file)
    if not text then return nil, "cannot read the API key file " .. tostring(err) end
    local key, kerr = clean_key(text, opts.api_key_file)
    if not key then return nil, kerr end
    return key, opts.api_key_file
  end
  local home = getenv("HOME")
  if opts.profile then
    if not home or home == "" then
      return nil, "--profile needs $HOME to find ~/.paperspace/credentials.yml"
    end
    local key, err = from_credentials(home, opts.profile, "--profile " .. opts.profile)
    if not key then return nil, err end
    return key, credentials_path(home) .. " (" .. opts.profile .. ")"
  end
  local env = getenv("PAPERSPACE_API_KEY")
  if env and env ~= "" then return env, "PAPERSPACE_API_KEY" end
  if not home or home == "" then return nil, nil end
  local config_path = home .. "/.paperspace/config.yml"
  local config, err = load_yaml(config_path)
  if err then return nil, err end
  if not config then return nil, nil end
  local team = config.team
  if team == nil then return nil, nil end
  if type(team) ~= "string" and type(team) ~= "number" then
    return nil, config_path .. ": `team:` must be a name"
  end
  team = tostring(team)
  local key, kerr = from_credentials(home, team, "the team of " .. config_path)
  if not key then return nil, kerr end
  return key, credentials_path(home) .. " (" .. team .. ")"
end

--- The hint printed when no key is configured.
credentials.HINT = "no API key configured: set PAPERSPACE_API_KEY, pass --api-key-file FILE, "
  .. "or log in with the pspace CLI (~/.paperspace/credentials.yml)"

return credentials
