--- The `paperspace` command: the session, team members and team secrets
-- from a shell or a CI job, on the library's public API.
--
--     local cli = require "paperspace.cli"
--     os.exit(cli.main(arg))
--
-- Exit codes: 0 ok, 1 an API error, 2 usage, 3 authentication or permission
-- (no key configured included), 4 not found, 5 a sync where some names failed.
-- No secret value and no API key is ever printed, logged or put in an error.
-- @module paperspace.cli

local argparse = require "argparse"
local output = require "paperspace.cli.output"
local credentials = require "paperspace.cli.credentials"
local dotenv = require "paperspace.cli.dotenv"

local cli = {}

--- The exit codes.
cli.EXIT = { ok = 0, api = 1, usage = 2, auth = 3, not_found = 4, partial = 5 }
local EXIT = cli.EXIT

--- The command's version (the library's).
cli.VERSION = "0.1.0"

local EPILOG = [[
API key, first found of: --api-key-file FILE; --profile NAME (an entry of
~/.paperspace/credentials.yml); $PAPERSPACE_API_KEY; the entry of
~/.paperspace/credentials.yml named by `team:` in ~/.paperspace/config.yml
(the files of the pspace CLI). API URL: --api-url, then $PAPERSPACE_API_URL.

Exit codes: 0 ok; 1 an API error; 2 usage; 3 authentication or permission
(no API key configured included); 4 not found; 5 a sync where some names
failed.]]

-- The options every command takes, before or after its name. Before it,
-- they go to targets of their own (`global_json`): argparse would reset the
-- command's own target to nil.
local COMMON = { "api_key_file", "profile", "api_url", "team", "json", "quiet", "verbose" }

local function common_options(cmd, prefix)
  prefix = prefix or ""
  cmd:option("--api-key-file", "Read the API key from FILE."):argname("<file>")
     :target(prefix .. "api_key_file")
  cmd:option("--profile", "Use the key of entry NAME of ~/.paperspace/credentials.yml.")
     :argname("<name>"):target(prefix .. "profile")
  cmd:option("--api-url", "The API's base URL (default: $PAPERSPACE_API_URL, or the production API).")
     :argname("<url>"):target(prefix .. "api_url")
  cmd:option("--team", "The team (default: the session's team)."):argname("<id>"):target(prefix .. "team")
  cmd:flag("--json", "Print one JSON document instead of tables."):target(prefix .. "json")
  cmd:mutex(
    cmd:flag("-q --quiet", "Print nothing on success."):target(prefix .. "quiet"),
    cmd:flag("--verbose", "Log each request to stderr (method, path, status, request id).")
       :target(prefix .. "verbose")
  )
end

-- argparse's error method, with the exit code documented for usage errors.
local function usage_error(p, msg)
  io.stderr:write(p:get_usage(), "\n\npaperspace: ", msg, "\n")
  os.exit(EXIT.usage)
end

--- Builds the command line parser (also used to write the man page and the
-- bash completion).
-- @treturn argparse.Parser
function cli.parser()
  local parser = argparse("paperspace", "The Paperspace team and secrets API from the shell.")
    :epilog(EPILOG)
    :command_target("command")
    :require_command(true)
    :help_max_width(80)
  parser:flag("--version", "Print the version and exit."):action(function()
    io.stdout:write("paperspace ", cli.VERSION, "\n")
    os.exit(0)
  end)
  common_options(parser, "global_")

  local whoami = parser:command("whoami", "Print the session's user and team.")
  common_options(whoami)

  local members = parser:command("members", "List a team's members, change their role, remove them.")
    :command_target("action"):require_command(true)
  local list = members:command("list", "List the team's members.")
  list:flag("--admins", "Only the admins.")
  common_options(list)
  for _, c in ipairs {
    { "promote", "Make a member an admin of the team." },
    { "demote", "Make a member no longer an admin of the team." },
    { "remove", "Remove a member from the team (asks first on a terminal)." },
  } do
    local cmd = members:command(c[1], c[2])
    cmd:argument("user_id", "The member's user id.")
    if c[1] == "remove" then
      cmd:flag("-y --yes", "Do not ask; needed when stdin is not a terminal.")
    end
    common_options(cmd)
  end

  local secrets = parser:command("secrets")
    :summary("List, read, set, delete and sync a team's secrets.")
    :command_target("action"):require_command(true)
    :description("List, read, set, delete and sync a team's secrets. The API never returns a "
                 .. "secret's value: `list` and `get` show names and creation dates.")
  common_options(secrets:command("list", "List the team's secrets (names and dates)."))
  local get = secrets:command("get", "Show a secret's name and creation date (never its value).")
  get:argument("name", "The secret's name.")
  common_options(get)
  local set = secrets:command("set"):summary("Create or update a secret.")
    :description("Create a secret, or update it when it exists. The value is read from stdin "
                 .. "(without echo on a terminal; one trailing newline dropped), or from "
                 .. "--from-file (as it is), or from --value, which other users of the machine "
                 .. "can see in `ps`.")
  set:argument("name", "The secret's name.")
  set:mutex(
    set:option("--from-file", "Read the value from FILE, as it is."):argname("<file>"),
    set:option("--value", "The value itself (visible to other users in `ps`: prefer stdin).")
       :argname("<value>")
  )
  common_options(set)
  local delete = secrets:command("delete", "Delete a secret.")
  delete:argument("name", "The secret's name.")
  common_options(delete)
  local sync = secrets:command("sync"):summary("Set the team's secrets from a dotenv file.")
    :description("Create or update, concurrently, each secret a dotenv file names (KEY=value, "
                 .. "quotes, `export`, comments, multi-line quoted values; `-` is stdin). "
                 .. "--prune also deletes the team's secrets the file does not name, once every "
                 .. "other one is set. Prints a summary line; a progress count on a terminal.")
  sync:argument("file", "The dotenv file.")
  sync:flag("--prune", "Delete the team's secrets that the file does not name.")
  sync:flag("-n --dry-run", "Print what would change (names only) and change nothing.")
  common_options(sync)
  -- A usage error exits with 2, naming the command it is about.
  local function usage_errors(p)
    p.error = usage_error
    for _, c in ipairs(p._commands) do usage_errors(c) end
  end
  usage_errors(parser)
  return parser
end

---------------------------------------------------------------------------
-- Running a command
---------------------------------------------------------------------------

local function one_line(s)
  return (tostring(s):gsub("[%c\127]+", " "))
end

local function is_terminal(fd)
  local ok = os.execute("test -t " .. fd)
  return ok == true or ok == 0
end

-- Prints the result: JSON when asked, else the text for people.
local function print_result(ctx, json_value, text)
  if ctx.json then
    io.stdout:write(output.json(json_value), "\n")
  elseif not ctx.quiet and text then
    io.stdout:write(text)
  end
end

local function exit_code_of(err)
  if err.kind == "authentication" or err.kind == "permission_denied" then return EXIT.auth end
  if err.kind == "not_found" then return EXIT.not_found end
  return EXIT.api
end

local function error_json(err)
  return { kind = err.kind, status = err.status, code = err.code, message = err.message and
           one_line(err.message), request_id = err.request_id, method = err.method, path = err.path }
end

-- A failure: one line on stderr, and with --json an error document on stdout.
local function fail(ctx, code, message, kind)
  io.stderr:write("paperspace: ", one_line(message), "\n")
  if ctx.json then
    io.stdout:write(output.json { error = { kind = kind or "usage", message = one_line(message) } }, "\n")
  end
  return code
end

-- An API error: its one line (method, path, request id) on stderr.
local function api_fail(ctx, err)
  io.stderr:write(one_line(tostring(err)), "\n")
  if ctx.json then io.stdout:write(output.json { error = error_json(err) }, "\n") end
  return exit_code_of(err)
end

-- The client for the key found; nil and the exit code when there is none.
local function connect(ctx)
  local args = ctx.args
  local key, where = credentials.find { api_key_file = args.api_key_file, profile = args.profile }
  if not key then return nil, fail(ctx, EXIT.auth, where or credentials.HINT, "authentication") end
  local opts = { api_key = key, base_url = args.api_url, user_agent = "paperspace-cli/" .. cli.VERSION }
  if args.verbose then
    io.stderr:write("paperspace: API key from ", where, "\n")
    opts.logger = function(line) io.stderr:write(line, "\n") end
  end
  local paperspace = require "paperspace"
  local ok, client = pcall(paperspace.new, opts)
  if not ok then
    return nil, fail(ctx, EXIT.usage, (tostring(client):gsub("^[^:]*:%d+: ", "")))
  end
  ctx.client = client
  return client
end

-- The team: --team, or the session's.
local function team_of(ctx)
  local client = ctx.client
  if ctx.args.team then return client:team(ctx.args.team) end
  local session, err = client:get_session()
  if err then return nil, api_fail(ctx, err) end
  if type(session) ~= "table" or type(session.team) ~= "table" or session.team.id == nil then
    return nil, fail(ctx, EXIT.auth, "the API key has no session, so no team: pass --team ID",
                     "authentication")
  end
  local ok, team = pcall(client.team, client, session.team.id)
  if not ok then
    local why = tostring(team):gsub("^[^:]*:%d+: ", "")
    return nil, fail(ctx, EXIT.api, "the session's team id is not usable: " .. why, "invalid_response")
  end
  return team
end

local function plain(t, fields)
  local copy = {}
  for _, k in ipairs(fields) do copy[k] = t[k] end
  return copy
end

local MEMBER_FIELDS = { "userId", "email", "isAdmin", "teamId" }
local SECRET_FIELDS = { "name", "dtCreated" }

local commands = {}

function commands.whoami(ctx)
  local session, err = ctx.client:get_session()
  if err then return api_fail(ctx, err) end
  if type(session) ~= "table" then
    return fail(ctx, EXIT.auth, "nobody is logged in with this API key", "authentication")
  end
  local user = type(session.user) == "table" and session.user or {}
  local team = type(session.team) == "table" and session.team or {}
  local text = output.table({ "user", output.clean(user.id), output.clean(user.email) }, {
    { "team", output.clean(team.id), output.clean(team.name) },
  })
  print_result(ctx, { user = user, team = team }, text)
  return EXIT.ok
end

local members = {}

function members.list(ctx, team)
  local list, err = team:members()
  if err then return api_fail(ctx, err) end
  local rows, items = {}, output.array {}
  for _, m in ipairs(list) do
    if not ctx.args.admins or m.isAdmin == true then
      items[#items + 1] = plain(m, MEMBER_FIELDS)
      rows[#rows + 1] = { output.clean(m.userId), output.clean(m.email), m.isAdmin == true and "yes" or "no" }
    end
  end
  print_result(ctx, items, output.table({ "USER_ID", "EMAIL", "ADMIN" }, rows))
  return EXIT.ok
end

local function set_admin(ctx, team, is_admin)
  local member, err = team:update_member(ctx.args.user_id, is_admin)
  if err then return api_fail(ctx, err) end
  print_result(ctx, plain(member, MEMBER_FIELDS), string.format("%s (%s) is %s an admin of %s\n",
    output.clean(member.userId), output.clean(member.email), is_admin and "now" or "no longer",
    output.clean(team.id)))
  return EXIT.ok
end

function members.promote(ctx, team) return set_admin(ctx, team, true) end
function members.demote(ctx, team) return set_admin(ctx, team, false) end

function members.remove(ctx, team)
  local user_id = ctx.args.user_id
  if not ctx.args.yes then
    if not is_terminal(0) then
      return fail(ctx, EXIT.usage, "members remove asks for confirmation, and stdin is not a terminal: "
                  .. "pass --yes to remove " .. one_line(user_id))
    end
    io.stderr:write(string.format("Remove %s from team %s? [y/N] ", one_line(user_id), one_line(team.id)))
    io.stderr:flush()
    local answer = io.stdin:read("*l") or ""
    if not answer:match("^%s*[yY]") then
      return fail(ctx, EXIT.api, "not removed: " .. one_line(user_id), "declined")
    end
  end
  local ok, err = team:remove_member(user_id)
  if not ok then return api_fail(ctx, err) end
  print_result(ctx, { removed = user_id, team = team.id },
               string.format("removed %s from %s\n", one_line(user_id), one_line(team.id)))
  return EXIT.ok
end

local secrets = {}

function secrets.list(ctx, team)
  local list, err = team:secrets()
  if err then return api_fail(ctx, err) end
  local rows, items = {}, output.array {}
  for i, s in ipairs(list) do
    items[i] = plain(s, SECRET_FIELDS)
    rows[i] = { output.clean(s.name), output.clean(s.dtCreated) }
  end
  print_result(ctx, items, output.table({ "NAME", "CREATED" }, rows))
  return EXIT.ok
end

function secrets.get(ctx, team)
  local s, err = team:secret(ctx.args.name)
  if err then return api_fail(ctx, err) end
  print_result(ctx, plain(s, SECRET_FIELDS),
               output.table({ "NAME", "CREATED" }, { { output.clean(s.name), output.clean(s.dtCreated) } }))
  return EXIT.ok
end

-- The value for `secrets set`: --value, --from-file, or stdin.
local function read_value(ctx)
  local args = ctx.args
  if args.value then return args.value end
  if args.from_file then
    local f, err = io.open(args.from_file, "rb")
    if not f then return nil, "cannot read " .. err end
    local v = f:read("*a")
    f:close()
    return v
  end
  if is_terminal(0) then
    io.stderr:write("Value for ", one_line(args.name), " (not shown): ")
    io.stderr:flush()
    -- A shell reads the line with echo off, and turns echo back on however
    -- it ends (Ctrl-C included); the value comes back through a pipe.
    local p = assert(io.popen("trap 'stty echo 2>/dev/null' EXIT INT TERM; stty -echo 2>/dev/null; "
                              .. "IFS= read -r v; printf '%s' \"$v\"", "r"))
    local v = p:read("*a")
    p:close()
    io.stderr:write("\n")
    return v or ""
  end
  local v = io.stdin:read("*a") or ""
  return (v:gsub("\r?\n$", ""))
end

-- What a command reads before any request: a bad input sends nothing.
local prepare = {}

function prepare.set(ctx)
  local value, err = read_value(ctx)
  if not value then return fail(ctx, EXIT.usage, err) end
  if value == "" then
    return fail(ctx, EXIT.usage, "the value of " .. one_line(ctx.args.name)
                .. " is empty, and the API stores no empty secret")
  end
  ctx.value = value
end

function secrets.set(ctx, team)
  local s, created = team:set_secret(ctx.args.name, ctx.value)
  if not s then return api_fail(ctx, created) end
  local action = created and "created" or "updated"
  local doc = plain(s, SECRET_FIELDS)
  doc.action = action
  print_result(ctx, doc, action .. " " .. output.clean(s.name) .. "\n")
  return EXIT.ok
end

function secrets.delete(ctx, team)
  local ok, err = team:delete_secret(ctx.args.name)
  if not ok then return api_fail(ctx, err) end
  print_result(ctx, { name = ctx.args.name, action = "deleted" },
               "deleted " .. one_line(ctx.args.name) .. "\n")
  return EXIT.ok
end

-- Progress on stderr, on a terminal: "syncing 37/200".
local function progress(ctx, total)
  if ctx.quiet or not is_terminal(2) then return function() end, nil end
  local count = 0
  io.stderr:write(string.format("\rsyncing 0/%d", total))
  return function()
    count = count + 1
    io.stderr:write(string.format("\rsyncing %d/%d", count, total))
    io.stderr:flush()
  end, function() io.stderr:write("\r\27[K") end
end

function prepare.sync(ctx)
  local args = ctx.args
  local entries, perr = dotenv.read(args.file)
  if not entries then return fail(ctx, EXIT.usage, perr) end
  local source = args.file == "-" and "stdin" or args.file
  for _, e in ipairs(entries) do
    if e.value == "" then
      return fail(ctx, EXIT.usage, string.format("%s:%d: %s has an empty value, and the API stores no "
                  .. "empty secret (nothing was changed)", source, e.line, e.name))
    end
  end
  if #entries == 0 and args.prune and not args.dry_run then
    -- A file emptied by mistake must not wipe the team's secrets.
    return fail(ctx, EXIT.usage, source .. " names no secret, and --prune would delete every secret of the "
                .. "team; nothing was changed")
  end
  ctx.entries, ctx.source = entries, source
end

function secrets.sync(ctx, team)
  local args, entries, source = ctx.args, ctx.entries, ctx.source
  local existing, err = team:secrets()
  if err then return api_fail(ctx, err) end
  local exists, in_file = {}, entries.values
  for _, s in ipairs(existing) do exists[s.name] = true end
  local plan = {}
  for _, e in ipairs(entries) do
    plan[#plan + 1] = { name = e.name, action = exists[e.name] and "update" or "create" }
  end
  local doomed = {}
  if args.prune then
    for _, s in ipairs(existing) do
      if in_file[s.name] == nil then doomed[#doomed + 1] = s.name end
    end
    table.sort(doomed)
    for _, name in ipairs(doomed) do plan[#plan + 1] = { name = name, action = "delete" } end
  end
  local counts = { create = 0, update = 0, delete = 0 }
  for _, p in ipairs(plan) do counts[p.action] = counts[p.action] + 1 end

  if args.dry_run then
    local lines = {}
    for _, p in ipairs(plan) do lines[#lines + 1] = p.action .. " " .. output.clean(p.name) .. "\n" end
    lines[#lines + 1] = string.format("dry run for team %s: %d to create, %d to update, %d to delete; "
      .. "nothing changed\n", output.clean(team.id), counts.create, counts.update, counts.delete)
    print_result(ctx, { dry_run = true, team = team.id, changes = output.array(plan),
                        create = counts.create, update = counts.update, delete = counts.delete },
                 table.concat(lines))
    return EXIT.ok
  end

  local step, finish = progress(ctx, #plan)
  local done, failed = team:set_secrets(in_file, { on_done = step })
  local results, errors_seen, n_failed = output.array {}, {}, 0
  local tally = { created = 0, updated = 0, deleted = 0, failed = 0 }
  local function record(name, action, e)
    results[#results + 1] = { name = name, action = action, error = e and error_json(e) }
    tally[action] = tally[action] + 1
    if e then
      n_failed = n_failed + 1
      errors_seen[#errors_seen + 1] = { name = name, err = e }
    end
  end
  for _, e in ipairs(entries) do
    if done[e.name] then record(e.name, done[e.name]) else record(e.name, "failed", failed[e.name]) end
  end
  local pruned_skipped = args.prune and n_failed > 0 and #doomed > 0
  if args.prune and not pruned_skipped and #doomed > 0 then
    local calls = {}
    for i, name in ipairs(doomed) do
      calls[i] = function()
        local ok, e = team:delete_secret(name)
        step()
        return ok, e
      end
    end
    local out = ctx.client:gather(calls)
    for i, name in ipairs(doomed) do
      if out[i][1] then record(name, "deleted") else record(name, "failed", out[i][2]) end
    end
  end
  if finish then finish() end

  for _, f in ipairs(errors_seen) do
    io.stderr:write("paperspace: ", one_line(f.name), ": ",
                    one_line((tostring(f.err):gsub("^paperspace: ", ""))), "\n")
  end
  local summary = string.format("synced %s to team %s: %d created, %d updated, %d deleted, %d failed",
    output.clean(source), output.clean(team.id), tally.created, tally.updated, tally.deleted, tally.failed)
  if pruned_skipped then summary = summary .. "; nothing deleted, since some names failed" end
  local lines = {}
  for _, r in ipairs(results) do
    if r.action ~= "failed" then lines[#lines + 1] = r.action .. " " .. output.clean(r.name) .. "\n" end
  end
  lines[#lines + 1] = summary .. "\n"
  print_result(ctx, { team = team.id, results = results, created = tally.created, updated = tally.updated,
                      deleted = tally.deleted, failed = tally.failed, prune_skipped = pruned_skipped },
               table.concat(lines))
  if n_failed == 0 then return EXIT.ok end
  -- Nothing done and every failure of one class: that class's code.
  if n_failed == #results then
    local code = exit_code_of(errors_seen[1].err)
    for _, f in ipairs(errors_seen) do
      if exit_code_of(f.err) ~= code then return EXIT.partial end
    end
    return code
  end
  return EXIT.partial
end

--- Runs the command line `argv` (a list of strings, like `arg`).
-- @tparam table argv
-- @treturn integer the exit code
function cli.main(argv)
  local args_list = {}
  for i = 1, #(argv or {}) do args_list[i] = argv[i] end
  -- Usage errors and --help end the process here (exit 2 and 0).
  local args = cli.parser():parse(args_list)
  for _, name in ipairs(COMMON) do
    if args[name] == nil then args[name] = args["global_" .. name] end
  end
  local ctx = { args = args, json = args.json, quiet = args.quiet }
  local client, code = connect(ctx)
  if not client then return code end
  local ok, result = pcall(function()
    if args.command == "whoami" then return commands.whoami(ctx) end
    if args.command == "secrets" and prepare[args.action] then
      local pcode = prepare[args.action](ctx)
      if pcode then return pcode end
    end
    local team, tcode = team_of(ctx)
    if not team then return tcode end
    local group = args.command == "members" and members or secrets
    return group[args.action](ctx, team)
  end)
  client:close()
  if not ok then
    local message = tostring(result)
    -- A wrong argument the library refused (a name with a newline, say).
    if message:find("bad argument", 1, true) then
      return fail(ctx, EXIT.usage, (message:gsub("^[^:]*:%d+: ", "")))
    end
    return fail(ctx, EXIT.api, message, "internal")
  end
  return result
end

return cli
