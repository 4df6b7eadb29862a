---@meta paperspace
-- luacheck: ignore 212 241
-- Type annotations of the public API for LuaLS / EmmyLua (completion and type
-- checks in Neovim and other editors). Editors read this file; Lua never runs
-- it: `require "paperspace"` loads paperspace/init.lua. The operation methods
-- are made at run time from the C core's table of operations, so this file is
-- where an editor learns of them.

---@alias paperspace.Id string|integer an id or a name: a non-empty string, or an integer

---@alias paperspace.ErrorKind
---| "bad_request"       # 400
---| "authentication"    # 401
---| "permission_denied" # 403
---| "not_found"         # 404
---| "conflict"          # 409
---| "unprocessable"     # 422
---| "rate_limited"      # 429
---| "server_error"      # 5xx
---| "http"              # any other status
---| "timeout"
---| "connection"
---| "tls"
---| "invalid_response"  # a body that is not the JSON promised
---| "cancelled"         # a concurrent call stopped by task:cancel(), fail_fast or close()

---Options of `paperspace.new`.
---@class paperspace.Options
---@field api_key? string default `$PAPERSPACE_API_KEY`
---@field base_url? string default `$PAPERSPACE_API_URL` or `"https://api.paperspace.com/v1"`
---@field timeout? number seconds for one attempt (60)
---@field connect_timeout? number seconds to connect, TLS handshake included (10)
---@field max_retries? integer retries after the first attempt, 0 to 100 (2)
---@field user_agent? string appended to `lua-paperspace/<v> (<Lua>; libcurl/<v>)`
---@field max_response_bytes? integer a larger body is refused as `invalid_response` (32 MiB)
---@field tls_verify? boolean false only on purpose: it warns once on stderr (true)
---@field ca_file? string a PEM bundle to verify the server with
---@field logger? fun(line: string, record: paperspace.LogRecord) one call per attempt (two when retried)
---@field max_concurrency? integer requests in flight at once (8)
---@field max_host_connections? integer connections to the API host (max_concurrency)
---@field max_pages? integer the most pages a list fetches (1000; `math.huge`: no limit)
---@field loop? table a luv module (`vim.uv`, `vim.loop`, `require "luv"`): spawned calls run from that loop
---@field schedule? fun(fn: function) with `loop`: every `on_done` is handed to it (`vim.schedule`)

---The last argument of every method.
---@class paperspace.CallOptions
---@field timeout? number seconds for one attempt, for this call
---@field connect_timeout? number seconds to connect, for this call
---@field max_retries? integer for this call
---@field raw? boolean also return the response record (not for `each_*`)

---Options of the list methods (`list_*`, `each_*`, `team:members()`, `team:secrets()`).
---@class paperspace.ListOptions: paperspace.CallOptions
---@field limit? integer page size, 1 to 120
---@field after? string start after this cursor (a `nextPage` value)
---@field order_by? string members `"userId"`, `"email"`; secrets `"name"`, `"dtCreated"`
---@field order? "asc"|"desc"
---@field max_pages? integer the most pages this list fetches

---What a call got on the wire (`opts.raw`, `client:last_response()`).
---@class paperspace.Response
---@field status? integer
---@field headers? table<string, string> lower-case names
---@field request_id? string
---@field method string
---@field url string
---@field path string
---@field elapsed number seconds
---@field attempts? integer with `raw`: attempts made (over all pages for a list)
---@field retries? integer with `raw`: attempts after the first
---@field pages? integer with `raw`, for a list: pages fetched

---One line of the log, as a table.
---@class paperspace.LogRecord
---@field level "info"|"debug"
---@field method string
---@field path string
---@field status? integer
---@field kind? paperspace.ErrorKind
---@field ms number
---@field attempt integer
---@field request_id? string
---@field retry_in? number on a retry decision: seconds before the next attempt

---A runtime failure: the second result of a call that failed.
---@class paperspace.Error
---@field kind paperspace.ErrorKind
---@field message string what went wrong; the API's own message when it gave one
---@field status? integer the HTTP status, when there was a response
---@field code? string the API's own code (`"NOT_FOUND"`)
---@field request_id? string the response's `x-request-id`
---@field method? string
---@field url? string never with the key
---@field path? string
---@field body? any the decoded error body, when JSON
---@field headers? table<string, string>
---@field retryable? boolean whether trying again may help
---@field attempts? integer how many attempts were made
---@field elapsed? number seconds the last attempt took
---@field request_sent? boolean when no response came: whether any byte of the request left
---@field curl_code? integer libcurl's code, when no response came
local Error = {}

---Whether the error is of kind `kind`.
---@param kind paperspace.ErrorKind
---@return boolean
function Error:is(kind) end

---The session: who is logged in with the key, on which team.
---@class paperspace.Session
---@field user { id: string, email: string, [string]: any }
---@field team { id: string, name: string, [string]: any }

---A team: its members and its secrets. `client:team(id)` makes one without a request.
---@class paperspace.Team
---@field id string
---@field client paperspace.Client
local Team = {}

---Every member of the team, across all pages.
---@param opts? paperspace.ListOptions
---@return paperspace.Member[]|nil members
---@return paperspace.Error|nil err
function Team:members(opts) end

---Iterates over the members, fetching pages as the loop goes; raises the error object on failure.
---@param opts? paperspace.ListOptions
---@return fun(): paperspace.Member|nil
function Team:each_member(opts) end

---Makes a member an admin, or not, by user id, without listing first.
---@param user_id paperspace.Id
---@param is_admin boolean
---@return paperspace.Member|nil member
---@return paperspace.Error|nil err
function Team:update_member(user_id, is_admin) end

---Removes a member from the team by user id.
---@param user_id paperspace.Id
---@return true|nil ok
---@return paperspace.Error|nil err
function Team:remove_member(user_id) end

---Every secret of the team: names and dates, never values.
---@param opts? paperspace.ListOptions
---@return paperspace.Secret[]|nil secrets
---@return paperspace.Error|nil err
function Team:secrets(opts) end

---Iterates over the secrets, page by page; raises the error object on failure.
---@param opts? paperspace.ListOptions
---@return fun(): paperspace.Secret|nil
function Team:each_secret(opts) end

---One secret, by name (`kind == "not_found"` when there is none).
---@param name string
---@return paperspace.Secret|nil secret
---@return paperspace.Error|nil err
function Team:secret(name) end

---Creates a secret; fails with `kind == "conflict"` when it exists.
---@param name string
---@param value string
---@return paperspace.Secret|nil secret
---@return paperspace.Error|nil err
function Team:create_secret(name, value) end

---Sets a secret: updates it when it exists, creates it otherwise.
---@param name string
---@param value string
---@return paperspace.Secret|nil secret
---@return boolean|paperspace.Error created `true` when it was created, `false` when updated; or the error
function Team:set_secret(name, value) end

---Gets several secrets at once, concurrently.
---@param names string[]
---@return table<string, paperspace.Secret> found name -> secret, for the names that exist
---@return table<string, paperspace.Error>|nil missing name -> error, for the others; nil when none
function Team:get_secrets(names) end

---Sets several secrets at once, concurrently: each updated when it exists, created otherwise.
---@param values table<string, string> name -> value
---@return table<string, "created"|"updated"> done for the secrets set
---@return table<string, paperspace.Error>|nil failed name -> error, for the others; nil when none
function Team:set_secrets(values) end

---Deletes a secret by name.
---@param name string
---@return true|nil ok
---@return paperspace.Error|nil err
function Team:delete_secret(name) end

---A team member: the API's fields, with methods.
---@class paperspace.Member
---@field userId string
---@field teamId string
---@field email string
---@field isAdmin boolean
local Member = {}

---The team this member was listed from.
---@return paperspace.Team
function Member:team() end

---Makes the member an admin, or not; updates this object too.
---@param is_admin boolean
---@return paperspace.Member|nil member
---@return paperspace.Error|nil err
function Member:set_admin(is_admin) end

---Removes the member from the team.
---@return true|nil ok
---@return paperspace.Error|nil err
function Member:remove() end

---A secret: its name and dates (the API never returns a value), with methods.
---@class paperspace.Secret
---@field name string
---@field dtCreated string
---@field dtModified? string
local Secret = {}

---The team this secret belongs to.
---@return paperspace.Team
function Secret:team() end

---Replaces the secret's value.
---@param value string
---@return paperspace.Secret|nil secret
---@return paperspace.Error|nil err
function Secret:update(value) end

---Deletes the secret.
---@return true|nil ok
---@return paperspace.Error|nil err
function Secret:delete() end

---A task started by `client:spawn`.
---@class paperspace.Task
local Task = {}

---Whether the task has finished (or was cancelled).
---@return boolean
function Task:done() end

---What the task's function returned, once it is done; raises if it raised or is not done.
---@return any ...
function Task:result() end

---Stops the task; its result becomes `nil, err` with `err.kind == "cancelled"`.
function Task:cancel() end

---A call for `client:gather`: a method name and its arguments, or a function.
---@alias paperspace.Call { [1]: string, [integer]: any, n?: integer }|fun(): ...

---The client: one per API key, holding kept-alive connections.
---@class paperspace.Client
local Client = {}

---The current session; `nil, nil` when nobody is logged in (the API answers JSON null).
---@param opts? paperspace.CallOptions
---@return paperspace.Session|nil session
---@return paperspace.Error|nil err
---@return paperspace.Response|nil resp with `opts.raw`
function Client:get_session(opts) end

---Every member of a team, across all pages.
---@param team_id paperspace.Id
---@param opts? paperspace.ListOptions
---@return paperspace.Member[]|nil members
---@return paperspace.Error|nil err
---@return paperspace.Response|nil resp with `opts.raw`
function Client:list_team_members(team_id, opts) end

---Iterates over a team's members page by page; raises the error object on failure.
---@param team_id paperspace.Id
---@param opts? paperspace.ListOptions without `raw`
---@return fun(): paperspace.Member|nil
function Client:each_team_member(team_id, opts) end

---Makes a member an admin, or not.
---@param team_id paperspace.Id
---@param user_id paperspace.Id
---@param body { isAdmin: boolean }
---@param opts? paperspace.CallOptions
---@return paperspace.Member|nil member
---@return paperspace.Error|nil err
---@return paperspace.Response|nil resp with `opts.raw`
function Client:update_team_member(team_id, user_id, body, opts) end

---Removes a member from a team.
---@param team_id paperspace.Id
---@param user_id paperspace.Id
---@param opts? paperspace.CallOptions
---@return true|nil ok
---@return paperspace.Error|nil err
---@return paperspace.Response|nil resp with `opts.raw`
function Client:remove_team_member(team_id, user_id, opts) end

---Every secret of a team (names and dates), across all pages.
---@param team_id paperspace.Id
---@param opts? paperspace.ListOptions
---@return paperspace.Secret[]|nil secrets
---@return paperspace.Error|nil err
---@return paperspace.Response|nil resp with `opts.raw`
function Client:list_team_secrets(team_id, opts) end

---Iterates over a team's secrets page by page; raises the error object on failure.
---@param team_id paperspace.Id
---@param opts? paperspace.ListOptions without `raw`
---@return fun(): paperspace.Secret|nil
function Client:each_team_secret(team_id, opts) end

---Creates a secret.
---@param team_id paperspace.Id
---@param body { name: string, value: string }
---@param opts? paperspace.CallOptions
---@return paperspace.Secret|nil secret
---@return paperspace.Error|nil err
---@return paperspace.Response|nil resp with `opts.raw`
function Client:create_team_secret(team_id, body, opts) end

---One secret, by name.
---@param team_id paperspace.Id
---@param name string
---@param opts? paperspace.CallOptions
---@return paperspace.Secret|nil secret
---@return paperspace.Error|nil err
---@return paperspace.Response|nil resp with `opts.raw`
function Client:get_team_secret(team_id, name, opts) end

---Replaces a secret's value.
---@param team_id paperspace.Id
---@param name string
---@param body { value: string }
---@param opts? paperspace.CallOptions
---@return paperspace.Secret|nil secret
---@return paperspace.Error|nil err
---@return paperspace.Response|nil resp with `opts.raw`
function Client:update_team_secret(team_id, name, body, opts) end

---Deletes a secret.
---@param team_id paperspace.Id
---@param name string
---@param opts? paperspace.CallOptions
---@return true|nil ok
---@return paperspace.Error|nil err
---@return paperspace.Response|nil resp with `opts.raw`
function Client:delete_team_secret(team_id, name, opts) end

---The team object for an id, made once per client and id, without a request.
---@param id paperspace.Id
---@return paperspace.Team
function Client:team(id) end

---Runs calls concurrently and returns their results in order.
---@param calls paperspace.Call[]
---@param opts? { fail_fast?: boolean }
---@return { [integer]: any, n: integer }[] results `results[i]` lists what call i returned
---@return integer failed how many calls returned an error
function Client:gather(calls, opts) end

---Starts `fn` as a task without blocking; `client:poll` moves it forward.
---@param fn fun(): ...
---@param on_done? fun(...) called once when the task ends
---@return paperspace.Task
function Client:spawn(fn, on_done) end

---Moves started tasks forward, waiting up to `wait` seconds (default 0).
---@param wait? number
---@return integer pending tasks not done
function Client:poll(wait) end

---Runs the loop until every task is done; raises inside a task.
function Client:wait_all() end

---What the last attempt got on the wire; nil before the first call.
---@return paperspace.Response|nil
function Client:last_response() end

---Closes the client and its connections; tasks still running end as cancelled.
function Client:close() end

---The client's settings, without the API key.
---@return paperspace.Settings
function Client:settings() end

---What `client:settings()` returns: a copy of the resolved options, without the key.
---@class paperspace.Settings
---@field base_url string
---@field timeout number
---@field connect_timeout number
---@field max_retries integer
---@field user_agent string the whole string sent
---@field max_response_bytes integer
---@field tls_verify boolean
---@field ca_file? string
---@field max_pages number
---@field max_concurrency integer
---@field max_host_connections integer
---@field has_api_key boolean whether a key is set

---@class paperspace
---@field _VERSION string the library's version
---@field null lightuserdata JSON null inside results (lua-cjson's `cjson.null`)
local paperspace = {}

---Makes a client.
---@param opts? paperspace.Options
---@return paperspace.Client
function paperspace.new(opts) end

---Whether `v` is an error object of this library.
---@param v any
---@return boolean
function paperspace.is_error(v) end

return paperspace
