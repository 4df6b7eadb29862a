-- The `paperspace` command, installed by `luarocks make` into a fresh tree
-- (once for this file) and run as a user runs it, against the emulator:
-- stdout, stderr and the exit code of every command, for success and for
-- each class of failure. Every run also checks that nothing it printed holds
-- the API key or a secret value.
-- spec tags: external
local cjson = require "cjson"
local helpers = require "spec.support.helpers"
local read, write, q = helpers.read, helpers.write, helpers.quote

-- Distinctive, so that finding them in output cannot be a coincidence.
local KEY = "psk-cli-key-7f3e9a1c5b"
local OTHER_KEY = "psk-cli-other-2d8b4e6f"

local sh = helpers.execute

-- Every secret value a test used: none may ever be printed.
local values = {}
local function value(v)
  values[#values + 1] = v
  return v
end

local function assert_secret_free(text, what)
  for _, s in ipairs({ KEY, OTHER_KEY }) do
    assert.is_nil(text:find(s, 1, true), what .. " holds an API key:\n" .. text)
  end
  for _, v in ipairs(values) do
    assert.is_nil(text:find(v, 1, true), what .. " holds the secret value " .. v .. ":\n" .. text)
  end
end

local tree, bin, dir, made, made_ok

setup(function()
  tree = os.tmpname()
  os.remove(tree)
  dir = os.tmpname()
  os.remove(dir)
  assert(sh("mkdir -p " .. q(dir .. "/home")))
  local rockspec = "lua-paperspace-0.1.0-1.rockspec"
  made, made_ok = helpers.run(string.format("luarocks --lua-version=5.4 make --tree %s --deps-mode=none %s",
                                            q(tree), rockspec))
  bin = tree .. "/bin/paperspace"
end)

teardown(function()
  sh("rm -rf " .. q(tree) .. " " .. q(dir))
  sh("rm -rf src/*.o paperspace")
end)

-- Runs the installed command with `args` (shell words) in a clean
-- environment: HOME is an empty folder, the key and the URL come from the
-- environment unless `opts` says otherwise. Returns {out, err, code}.
local emu
local function run(args, opts)
  opts = opts or {}
  assert.is_true(made_ok, made)
  local env = {
    "PATH=" .. q(os.getenv("PATH")),
    "HOME=" .. q(opts.home or (dir .. "/home")),
    "PAPERSPACE_API_URL=" .. q(opts.url or emu.url),
  }
  if opts.key ~= false then env[#env + 1] = "PAPERSPACE_API_KEY=" .. q(opts.key or KEY) end
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. q(v) end
  local stdin = "/dev/null"
  if opts.stdin then stdin = write(dir .. "/stdin", opts.stdin) end
  local cmd = string.format("cd %s && env -i %s %s %s <%s >%s 2>%s", q(dir), table.concat(env, " "), q(bin),
                            args, q(stdin), q(dir .. "/out"), q(dir .. "/err"))
  if opts.tty then
    -- On a terminal: `script` gives the command a pseudo-terminal, fed from
    -- stdin once it had the time to print its prompt (the terminal echoes
    -- what comes in while echo is still on, as it would for a user typing early).
    cmd = string.format("cd %s && (sleep %s; cat %s; sleep 0.5) | env -i %s script -qec %s /dev/null >%s 2>%s",
                        q(dir), opts.tty_delay or "0.5", q(stdin), table.concat(env, " "),
                        q(q(bin) .. " " .. args), q(dir .. "/out"), q(dir .. "/err"))
  end
  local code = helpers.exit_code(cmd)
  local r = { out = read(dir .. "/out") or "", err = read(dir .. "/err") or "", code = code }
  assert_secret_free(r.out, "stdout of `paperspace " .. args .. "`")
  assert_secret_free(r.err, "stderr of `paperspace " .. args .. "`")
  return r
end

local function json(r)
  local ok, doc = pcall(cjson.decode, r.out)
  assert(ok, "not one JSON document: " .. r.out)
  return doc
end

-- One line on stderr: "paperspace: ...".
local function one_error_line(r, pattern)
  assert.matches("^paperspace: [^\n]*\n$", r.err)
  if pattern then assert.matches(pattern, r.err) end
end

local function mutations(e)
  local n = 0
  for _, req in ipairs(e:requests()) do
    if req.method ~= "GET" then n = n + 1 end
  end
  return n
end

describe("paperspace (installed) against the emulator", function()
  helpers.use_emulator({ api_key = KEY, secrets = { EXISTING = value("existing-value-91c2"),
                                                    OLD = value("old-value-4b7e") } }, {},
                       function(e) emu = e end)

  it("installs with luarocks make --deps-mode=none", function()
    assert.is_true(made_ok, made)
    assert.is_true(sh("test -x " .. q(bin)))
  end)

  describe("whoami", function()
    it("prints the session's user and team", function()
      local r = run("whoami")
      assert.equal(0, r.code, r.err)
      assert.equal("user  user-1  ada@example.com\nteam  team-1  Acme\n", r.out)
      assert.equal("", r.err)
      local doc = json(run("whoami --json"))
      assert.equal("user-1", doc.user.id)
      assert.equal("team-1", doc.team.id)
    end)

    it("exits 3 with a hint when no key is configured, sending nothing", function()
      local r = run("whoami", { key = false })
      assert.equal(3, r.code)
      assert.equal("", r.out)
      one_error_line(r, "no API key configured: set PAPERSPACE_API_KEY, pass %-%-api%-key%-file FILE, or log in "
                     .. "with the pspace CLI")
      assert.equal(0, #emu:requests())
      local doc = json(run("whoami --json", { key = false }))
      assert.equal("authentication", doc.error.kind)
    end)

    it("exits 3 on a key the API refuses, with the request id", function()
      local r = run("whoami", { key = OTHER_KEY })
      assert.equal(3, r.code)
      assert.equal("", r.out)
      one_error_line(r, "^paperspace: 401 authentication: .*%(GET /auth/session, request req%-%d+%)\n$")
      local doc = json(run("whoami --json", { key = OTHER_KEY }))
      assert.equal(401, doc.error.status)
      assert.is_string(doc.error.request_id)
    end)

    it("exits 3 when the key has no session", function()
      emu:configure { logged_out = true }
      local r = run("whoami")
      assert.equal(3, r.code)
      one_error_line(r, "nobody is logged in")
      r = run("secrets list")
      assert.equal(3, r.code)
      one_error_line(r, "pass %-%-team ID")
    end)
  end)

  describe("members", function()
    it("list: a table, --admins, --json, --team", function()
      local r = run("members list")
      assert.equal(0, r.code, r.err)
      assert.equal(1, r.out:find("USER_ID  EMAIL              ADMIN\nuser-1   ada@example.com    yes\n"
                                 .. "user-2   user2@example.com  no\n", 1, true))
      assert.equal(6, select(2, r.out:gsub("\n", "")))
      r = run("members list --admins")
      assert.equal("USER_ID  EMAIL            ADMIN\nuser-1   ada@example.com  yes\n", r.out)
      local doc = json(run("members list --json"))
      assert.equal(5, #doc)
      assert.same({ userId = "user-2", email = "user2@example.com", isAdmin = false, teamId = "team-1" }, doc[2])
      doc = json(run("members list --admins --json --team team-1"))
      assert.equal(1, #doc)
      r = run("members list --team team-9")
      assert.equal(4, r.code)
      assert.equal("", r.out)
      one_error_line(r, "404 not_found: .*GET /teams/team%-9/users, request req%-")
    end)

    it("an empty list is [] in JSON", function()
      assert.equal(0, run("members demote user-1").code)
      assert.equal("[]\n", run("members list --admins --json").out)
      assert.equal("USER_ID  EMAIL  ADMIN\n", run("members list --admins").out)
    end)

    it("promote and demote", function()
      local r = run("members promote user-2")
      assert.equal(0, r.code, r.err)
      assert.equal("user-2 (user2@example.com) is now an admin of team-1\n", r.out)
      assert.is_true(emu:state().members[2].isAdmin)
      local doc = json(run("members demote user-2 --json"))
      assert.is_false(doc.isAdmin)
      assert.is_false(emu:state().members[2].isAdmin)
      r = run("members promote user-99")
      assert.equal(4, r.code)
      one_error_line(r, "404 not_found")
    end)

    it("remove refuses without --yes when stdin is not a terminal", function()
      local r = run("members remove user-3", { stdin = "y\n" })
      assert.equal(2, r.code)
      assert.equal("", r.out)
      one_error_line(r, "stdin is not a terminal: pass %-%-yes")
      assert.equal(5, #emu:state().members)
      assert.equal(0, mutations(emu))
    end)

    it("remove --yes removes", function()
      local r = run("members remove user-3 --yes")
      assert.equal(0, r.code, r.err)
      assert.equal("removed user-3 from team-1\n", r.out)
      assert.equal(4, #emu:state().members)
      local doc = json(run("members remove user-4 -y --json"))
      assert.same({ removed = "user-4", team = "team-1" }, doc)
      r = run("members remove user-4 --yes")
      assert.equal(4, r.code)
    end)

    it("remove asks on a terminal: no keeps the member, yes removes it", function()
      local r = run("members remove user-3", { tty = true, stdin = "n\n" })
      assert.matches("Remove user%-3 from team team%-1%? %[y/N%]", r.out)
      assert.equal(1, r.code)
      assert.equal(5, #emu:state().members)
      r = run("members remove user-3", { tty = true, stdin = "y\n" })
      assert.equal(0, r.code, r.out)
      assert.matches("removed user%-3 from team%-1", r.out)
      assert.equal(4, #emu:state().members)
    end)
  end)

  describe("secrets", function()
    it("list and get print names and dates, never values", function()
      local r = run("secrets list")
      assert.equal(0, r.code, r.err)
      assert.matches("^NAME      CREATED\nEXISTING  %d%d%d%d%-%d%d%-%d%dT[^\n]+\nOLD       ", r.out)
      local doc = json(run("secrets list --json"))
      assert.equal(2, #doc)
      assert.equal("EXISTING", doc[1].name)
      assert.is_nil(doc[1].value)
      r = run("secrets get OLD")
      assert.matches("^NAME  CREATED\nOLD   %d%d%d%d", r.out)
      doc = json(run("secrets get OLD --json"))
      assert.equal("OLD", doc.name)
      assert.is_string(doc.dtCreated)
      r = run("secrets get MISSING")
      assert.equal(4, r.code)
      assert.equal("", r.out)
      one_error_line(r, "^paperspace: 404 not_found: .*%(GET /teams/team%-1/secrets/MISSING, request req%-%d+%)\n$")
      doc = json(run("secrets get MISSING --json"))
      assert.equal("not_found", doc.error.kind)
      assert.equal(404, doc.error.status)
    end)

    it("an empty list prints the header, or [] in JSON", function()
      emu:reset()
      assert.equal(0, run("secrets delete EXISTING").code)
      assert.equal(0, run("secrets delete OLD").code)
      assert.equal("NAME  CREATED\n", run("secrets list").out)
      assert.equal("[]\n", run("secrets list --json").out)
    end)

    it("set reads the value from stdin (one trailing newline dropped)", function()
      local v = value("stdin-value-5e1a")
      local r = run("secrets set NEW", { stdin = v .. "\n" })
      assert.equal(0, r.code, r.err)
      assert.equal("created NEW\n", r.out)
      assert.equal(v, emu:state().secrets.NEW.value)
      local v2 = value("stdin-value-two-8c3d\n")
      r = run("secrets set NEW --json", { stdin = v2 .. "\n" })
      local doc = json(r)
      assert.same({ "NEW", "updated" }, { doc.name, doc.action })
      assert.equal(v2, emu:state().secrets.NEW.value)
    end)

    it("set reads --from-file as it is, and takes --value", function()
      local v = value("file-value-6f0b\n-----END-----\n")
      write(dir .. "/value.txt", v)
      local r = run("secrets set FROMFILE --from-file value.txt")
      assert.equal(0, r.code, r.err)
      assert.equal(v, emu:state().secrets.FROMFILE.value)
      local v2 = value("argv-value-1d9e")
      r = run("secrets set OLD --value " .. v2)
      assert.equal("updated OLD\n", r.out)
      assert.equal(v2, emu:state().secrets.OLD.value)
      r = run("secrets set X --from-file missing.txt")
      assert.equal(2, r.code)
      one_error_line(r, "missing%.txt")
    end)

    it("set refuses an empty value, and --value with --from-file, sending nothing", function()
      local r = run("secrets set EMPTY", { stdin = "\n" })
      assert.equal(2, r.code)
      one_error_line(r, "EMPTY is empty")
      r = run("secrets set X --value a --from-file b")
      assert.equal(2, r.code)
      assert.matches("can not be used together", r.err)
      assert.equal(0, mutations(emu))
    end)

    it("set does not echo a value typed on a terminal", function()
      local v = value("typed-value-0a4c")
      local r = run("secrets set TYPED", { tty = true, stdin = v .. "\n" })
      assert.equal(0, r.code, r.out)
      assert.matches("Value for TYPED %(not shown%):", r.out)
      assert.equal(v, emu:state().secrets.TYPED.value)
    end)

    it("delete", function()
      local r = run("secrets delete OLD")
      assert.equal(0, r.code, r.err)
      assert.equal("deleted OLD\n", r.out)
      assert.is_nil(emu:state().secrets.OLD)
      r = run("secrets delete OLD --json")
      assert.equal(4, r.code)
      assert.equal("not_found", json(r).error.kind)
    end)

    it("a name the library refuses is a usage error", function()
      local r = run("secrets get .. --team team-1")
      assert.equal(2, r.code)
      one_error_line(r, "must not be")
      assert.equal(0, #emu:requests())
    end)
  end)

  describe("secrets sync", function()
    before_each(function()
      write(dir .. "/ci.env", table.concat {
        "# deploy settings\r\n",
        "export DATABASE_URL=", value("postgres://u:pw-3e8f@db/app"), "  # inline\r\n",
        "PEM=\"", value("-----BEGIN KEY-----\nMIIB-77aa\n-----END KEY-----"), "\"\n",
        "QUOTED='", value("single $quoted-9b2c"), "'\n",
        "EXISTING=", value("replaced-value-c0ff"), "\n",
      })
    end)

    it("--dry-run prints the plan and changes nothing", function()
      local before = emu:state().secrets
      local r = run("secrets sync ci.env --dry-run --prune")
      assert.equal(0, r.code, r.err)
      assert.equal("create DATABASE_URL\ncreate PEM\ncreate QUOTED\nupdate EXISTING\ndelete OLD\n"
                   .. "dry run for team team-1: 3 to create, 1 to update, 1 to delete; nothing changed\n", r.out)
      assert.same(before, emu:state().secrets)
      assert.equal(0, mutations(emu))
      local doc = json(run("secrets sync ci.env -n --json"))
      assert.is_true(doc.dry_run)
      assert.same({ name = "EXISTING", action = "update" }, doc.changes[4])
      assert.equal(0, doc.delete)
      assert.equal(0, mutations(emu))
      -- --verbose logs the requests, and still no value.
      r = run("secrets sync ci.env --dry-run --verbose")
      assert.matches("paperspace: GET /teams/team%-1/secrets 200 %d+ms attempt=1 request_id=req%-", r.err)
      assert.same(before, emu:state().secrets)
    end)

    it("creates and updates each secret, and keeps the others", function()
      local r = run("secrets sync ci.env")
      assert.equal(0, r.code, r.err)
      assert.equal("created DATABASE_URL\ncreated PEM\ncreated QUOTED\nupdated EXISTING\n"
                   .. "synced ci.env to team team-1: 3 created, 1 updated, 0 deleted, 0 failed\n", r.out)
      local s = emu:state().secrets
      assert.equal("postgres://u:pw-3e8f@db/app", s.DATABASE_URL.value)
      assert.equal("-----BEGIN KEY-----\nMIIB-77aa\n-----END KEY-----", s.PEM.value)
      assert.equal("single $quoted-9b2c", s.QUOTED.value)
      assert.equal("replaced-value-c0ff", s.EXISTING.value)
      assert.equal("old-value-4b7e", s.OLD.value)
    end)

    it("--prune deletes what the file does not name; --quiet prints nothing", function()
      local r = run("secrets sync ci.env --prune --quiet")
      assert.equal(0, r.code, r.err)
      assert.equal("", r.out)
      assert.equal("", r.err)
      assert.is_nil(emu:state().secrets.OLD)
      assert.equal("replaced-value-c0ff", emu:state().secrets.EXISTING.value)
    end)

    it("shows progress on a terminal, and not elsewhere", function()
      local r = run("secrets sync ci.env", { tty = true, tty_delay = 0 })
      assert.equal(0, r.code, r.out)
      assert.matches("syncing 4/4", r.out)
      assert.matches("synced ci.env to team team%-1: 3 created, 1 updated", r.out)
      emu:reset()
      r = run("secrets sync ci.env")
      assert.equal("", r.err)
    end)

    it("reads stdin for -", function()
      local r = run("secrets sync - --json", { stdin = "FROM_STDIN=" .. value("piped-value-e41b") .. "\n" })
      assert.equal(0, r.code, r.err)
      local doc = json(r)
      assert.same({ name = "FROM_STDIN", action = "created" }, doc.results[1])
      assert.equal("piped-value-e41b", emu:state().secrets.FROM_STDIN.value)
    end)

    it("exits 5 when some names fail, naming each with its request id; prune waits", function()
      emu:fault { method = "PATCH", path = "/teams/team-1/secrets/EXISTING", times = 0,
                  responses = { { status = 403, body = { code = "FORBIDDEN", message = "read only" } } } }
      local r = run("secrets sync ci.env --prune")
      assert.equal(5, r.code)
      assert.equal(1, r.err:find("paperspace: EXISTING: 403 permission_denied: read only "
                                 .. "(PATCH /teams/team-1/secrets/EXISTING, request req-", 1, true))
      assert.equal(1, select(2, r.err:gsub("\n", "")))
      assert.matches("synced ci.env to team team%-1: 3 created, 0 updated, 0 deleted, 1 failed; nothing deleted, "
                     .. "since some names failed\n$", r.out)
      assert.is_not_nil(emu:state().secrets.OLD)
      emu:reset()
      emu:fault { method = "PATCH", path = "/teams/team-1/secrets/EXISTING", times = 0,
                  responses = { { status = 403, body = { code = "FORBIDDEN", message = "read only" } } } }
      local doc = json(run("secrets sync ci.env --json"))
      assert.equal(1, doc.failed)
      assert.equal("failed", doc.results[4].action)
      assert.equal("permission_denied", doc.results[4].error.kind)
    end)

    it("exits with the failure's own code when every name fails alike", function()
      emu:fault { method = "PATCH", match = "pattern", path = "^/teams/team%-1/secrets/", times = 0,
                  responses = { { status = 403 } } }
      emu:fault { method = "POST", path = "/teams/team-1/secrets", times = 0, responses = { { status = 403 } } }
      local r = run("secrets sync ci.env")
      assert.equal(3, r.code)
      assert.equal(4, select(2, r.err:gsub("\n", "")))
    end)

    it("an API error before any change exits 1, with the request id", function()
      emu:fault { method = "GET", path = "/teams/team-1/secrets", times = 0, responses = { { status = 500 } } }
      local r = run("secrets sync ci.env")
      assert.equal(1, r.code)
      one_error_line(r, "500 server_error: .*request req%-%d+, 3 attempts%)")
      assert.equal(0, mutations(emu))
    end)

    it("refuses an invalid file or an empty value before sending anything", function()
      write(dir .. "/bad.env", "A=" .. value("fine-value-aa11") .. "\nnot a line " .. value("leaky-7d2e") .. "\n")
      local r = run("secrets sync bad.env")
      assert.equal(2, r.code)
      assert.equal("", r.out)
      one_error_line(r, "^paperspace: bad%.env:2: expected NAME=value")
      write(dir .. "/empty.env", "A=x\nEMPTY=\n")
      r = run("secrets sync empty.env")
      assert.equal(2, r.code)
      one_error_line(r, "empty%.env:2: EMPTY has an empty value")
      r = run("secrets sync missing.env")
      assert.equal(2, r.code)
      one_error_line(r, "missing%.env")
      assert.equal(0, #emu:requests())
    end)

    it("refuses --prune with a file that names no secret", function()
      write(dir .. "/none.env", "# nothing yet\n\n")
      local r = run("secrets sync none.env --prune")
      assert.equal(2, r.code)
      one_error_line(r, "none%.env names no secret, and %-%-prune would delete every secret")
      assert.equal(0, mutations(emu))
      assert.equal(2, #run("secrets list --json").out:gsub("[^{]", ""))
      r = run("secrets sync none.env --prune --dry-run")
      assert.equal(0, r.code, r.err)
      assert.matches("delete EXISTING\ndelete OLD\n", r.out)
      r = run("secrets sync none.env")
      assert.equal(0, r.code, r.err)
      assert.matches("0 created, 0 updated, 0 deleted, 0 failed\n$", r.out)
    end)

    it("syncs 200 secrets concurrently, faster than 200 sequential set commands", function()
      -- Every response comes LATENCY late: 200 calls made one after another
      -- (200 `secrets set` commands, or a sync that did not overlap its
      -- calls) take at least 200 * LATENCY however fast the machine is.
      local LATENCY = 0.05
      local lines, want = {}, {}
      for i = 1, 200 do
        local v = value(string.format("bulk-value-%03d-f00d", i))
        lines[i] = string.format("BULK_%03d=%s", i, v)
        want[string.format("BULK_%03d", i)] = v
      end
      write(dir .. "/bulk.env", table.concat(lines, "\n") .. "\n")
      emu:configure { latency = LATENCY }
      local clock = require("socket").gettime
      local t0 = clock()
      local r = run("secrets sync bulk.env --quiet")
      local sync_took = clock() - t0
      assert.equal(0, r.code, r.err)
      local s = emu:state().secrets
      for name, v in pairs(want) do assert.equal(v, s[name].value) end
      local calls = mutations(emu)
      assert.is_true(calls >= 200, calls .. " calls that change a secret")
      -- One `secrets set`, as each of the 200 would run: a process, its
      -- calls, each LATENCY late.
      emu:reset()
      emu:configure { latency = LATENCY }
      t0 = clock()
      r = run("secrets set BULK_001 --quiet --team team-1", { stdin = want.BULK_001 })
      local set_took = clock() - t0
      assert.equal(0, r.code, r.err)
      assert.equal(want.BULK_001, emu:state().secrets.BULK_001.value)
      assert.is_true(set_took >= LATENCY, string.format("one set %.3f s", set_took))
      print(string.format("\n200 secrets, responses %d ms late: one `secrets sync` %.2f s; one `secrets set` %.2f s, "
                          .. "so 200 sequential ones >= %.2f s", LATENCY * 1000, sync_took, set_took, 200 * set_took))
      assert.is_true(sync_took < 200 * LATENCY, string.format("sync %.2f s: its calls did not overlap", sync_took))
      assert.is_true(sync_took < 200 * set_took, string.format("sync %.2f s, 200 sets >= %.2f s", sync_took,
                                                               200 * set_took))
    end)
  end)

  describe("the API key", function()
    local home
    before_each(function()
      home = dir .. "/pshome"
      assert(sh("rm -rf " .. q(home) .. " && mkdir -p " .. q(home .. "/.paperspace")))
    end)

    local function pspace(config, creds)
      if config then write(home .. "/.paperspace/config.yml", config) end
      if creds then write(home .. "/.paperspace/credentials.yml", creds) end
    end

    it("comes from --api-key-file first", function()
      write(dir .. "/key.txt", KEY .. "\n")
      local r = run("whoami --api-key-file key.txt", { key = OTHER_KEY })
      assert.equal(0, r.code, r.err)
      write(dir .. "/key.txt", OTHER_KEY .. "\n")
      r = run("whoami --api-key-file key.txt")
      assert.equal(3, r.code)
      r = run("whoami --api-key-file nope.txt")
      assert.equal(3, r.code)
      one_error_line(r, "cannot read the API key file nope%.txt")
      write(dir .. "/key.txt", "\n")
      r = run("whoami --api-key-file key.txt")
      assert.equal(3, r.code)
      one_error_line(r, "key%.txt holds no key")
    end)

    it("then from PAPERSPACE_API_KEY, before the pspace CLI's files", function()
      pspace("team: acme\n", "version: 1\nkeys:\n  acme: " .. OTHER_KEY .. "\n")
      local r = run("whoami", { home = home })
      assert.equal(0, r.code, r.err)
      r = run("whoami --verbose", { home = home })
      assert.matches("^paperspace: API key from PAPERSPACE_API_KEY\n", r.err)
    end)

    it("then from ~/.paperspace: the team config.yml names, in credentials.yml", function()
      pspace("team: acme\n", "version: 1\nkeys:\n  acme: " .. KEY .. "\n  other: " .. OTHER_KEY .. "\n")
      local r = run("whoami --verbose", { home = home, key = false })
      assert.equal(0, r.code, r.err)
      assert.matches("API key from [^\n]*/%.paperspace/credentials%.yml %(acme%)", r.err)
      pspace("team: other\n")
      r = run("whoami", { home = home, key = false })
      assert.equal(3, r.code)
    end)

    it("--profile picks another entry, even over PAPERSPACE_API_KEY", function()
      pspace("team: acme\n", "version: 1\nkeys:\n  acme: " .. OTHER_KEY .. "\n  ci: " .. KEY .. "\n")
      local r = run("whoami --profile ci", { home = home, key = false })
      assert.equal(0, r.code, r.err)
      r = run("--profile ci whoami", { home = home, key = OTHER_KEY })
      assert.equal(0, r.code, r.err)
      r = run("whoami --profile nope", { home = home })
      assert.equal(3, r.code)
      one_error_line(r, "credentials%.yml has no key named 'nope' %(%-%-profile nope; it has: acme, ci%)")
    end)

    it("a malformed or odd file is a clear error naming the file", function()
      pspace("team: [acme\n", "version: 1\nkeys: {acme: " .. KEY .. "}\n")
      local r = run("whoami", { home = home, key = false })
      assert.equal(3, r.code)
      one_error_line(r, "config%.yml: malformed YAML: %d+:%d+: ")
      pspace("team: acme\n", "version: 1\nkeys: {acme: \"" .. KEY .. "\n")
      r = run("whoami", { home = home, key = false })
      assert.equal(3, r.code)
      one_error_line(r, "credentials%.yml: malformed YAML: ")
      pspace("team: acme\n", "version: 1\nkeys: [" .. KEY .. "]\n")
      r = run("whoami", { home = home, key = false })
      assert.equal(3, r.code)
      one_error_line(r, "credentials%.yml has no key named 'acme'")
      pspace("team: acme\n", "- just\n- a list\n")
      r = run("whoami", { home = home, key = false })
      assert.equal(3, r.code)
      one_error_line(r, "credentials%.yml")
      pspace("- a\n", "")
      r = run("whoami", { home = home, key = false })
      assert.equal(3, r.code)
      one_error_line(r, "config%.yml: expected a YAML mapping")
      assert.equal(0, #emu:requests())
    end)

    it("with no config.yml and no key anywhere: the hint", function()
      pspace(nil, "version: 1\nkeys:\n  acme: " .. KEY .. "\n")
      local r = run("whoami", { home = home, key = false })
      assert.equal(3, r.code)
      one_error_line(r, "no API key configured")
    end)
  end)

  describe("the command line", function()
    it("--help on every command, --version", function()
      for _, cmd in ipairs { "", "whoami", "members", "members list", "members promote", "members demote",
                             "members remove", "secrets", "secrets list", "secrets get", "secrets set",
                             "secrets delete", "secrets sync" } do
        local r = run(cmd .. " --help")
        assert.equal(0, r.code, cmd)
        assert.matches("^Usage: paperspace " .. cmd:gsub("%-", "%%-"), r.out)
        assert.equal("", r.err)
      end
      local r = run("--version")
      assert.matches("^paperspace %d+%.%d+%.%d+\n$", r.out)
      assert.equal(0, #emu:requests())
    end)

    it("usage errors exit 2 with the command's usage on stderr", function()
      for _, args in ipairs { "", "nope", "secrets", "secrets get", "members promote", "secrets list extra",
                              "whoami --bogus", "whoami --quiet --verbose", "secrets sync" } do
        local r = run(args)
        assert.equal(2, r.code, args)
        assert.equal("", r.out)
        assert.matches("^Usage: paperspace", r.err)
        assert.matches("\npaperspace: [^\n]+\n$", r.err)
      end
      assert.equal(0, #emu:requests())
    end)

    it("options go before or after the command", function()
      assert.equal("[", run("--json secrets list").out:sub(1, 1))
      assert.equal("[", run("secrets list --json").out:sub(1, 1))
      assert.equal(4, run("--team nope secrets list").code)
    end)

    it("--api-url overrides PAPERSPACE_API_URL", function()
      local r = run("whoami --api-url " .. emu.url, { url = "http://127.0.0.1:1" })
      assert.equal(0, r.code, r.err)
      r = run("whoami", { url = "http://127.0.0.1:1" })
      assert.equal(1, r.code)
      one_error_line(r, "connection")
    end)

    it("what a hostile server sends cannot drive the terminal or split an error line", function()
      emu:fault { method = "GET", path = "/teams/team-1/users",
                  responses = { { status = 200, body = { { userId = "user-1", email = "\27[2Jevil\r\n@x",
                                                           isAdmin = true, teamId = "team-1" } } } } }
      local r = run("members list --team team-1")
      assert.equal(0, r.code, r.err)
      assert.is_nil(r.out:find("\27", 1, true))
      assert.matches("user%-1   %?%[2Jevil%?%?@x  yes\n$", r.out)
      emu:fault { method = "GET", path = "/teams/team-1/secrets",
                  responses = { { status = 400, body = { code = "BAD", message = "one\ntwo\r\27[1mthree" } } } }
      r = run("secrets list --team team-1")
      assert.equal(1, r.code)
      -- The library itself escapes what a server says in its messages.
      one_error_line(r, "one\\ntwo\\r\\27%[1mthree")
      assert.is_nil(r.err:find("\27", 1, true))
    end)

    it("a session whose team id the library refuses is an API error", function()
      emu:fault { method = "GET", path = "/auth/session",
                  responses = { { status = 200, body = { user = { id = "u" }, team = { id = "a\nb" } } } } }
      local r = run("secrets list")
      assert.equal(1, r.code)
      one_error_line(r, "the session's team id is not usable")
    end)

    it("the check of what is printed finds a key or a value", function()
      assert.has_error(function() assert_secret_free("x " .. KEY .. " y", "text") end)
      assert.has_error(function() assert_secret_free("x old-value-4b7e", "text") end)
      assert_secret_free("nothing to see", "text")
    end)

    it("nothing printed holds the key or a value: errors, --verbose, --dry-run, --json", function()
      -- A server that echoes the key and the value back in its errors.
      local v = value("echoed-value-b3b3")
      emu:fault { method = "PATCH", match = "pattern", path = "^/teams/team%-1/secrets/", times = 0,
                  responses = { { status = 422, headers = { ["X-Echo"] = KEY .. " " .. v },
                                  body = { code = "BAD", message = "bad " .. KEY .. " value " .. v } } } }
      write(dir .. "/echo.env", "EXISTING=" .. v .. "\n")
      for _, args in ipairs { "secrets sync echo.env --verbose", "secrets sync echo.env --json --verbose",
                              "secrets sync echo.env --dry-run --verbose --prune", "secrets set EXISTING --verbose" } do
        local r = run(args, { stdin = v, env = { PAPERSPACE_LOG = "debug" } })
        assert.is_true(r.out .. r.err ~= "", args)
      end
    end)
  end)
end)

describe("paperspace on Lua 5.1 and LuaJIT (from the source tree)", function()
  local e
  setup(function()
    local out, ok = helpers.run("make -s compat")
    assert(ok, out)
    e = helpers.emulator { api_key = KEY, secrets = { OLD = value("old-value-4b7e") } }
  end)
  teardown(function() e:stop() end)

  for _, lua in ipairs { "lua5.1", "luajit" } do
    it("runs every kind of command on " .. lua, function()
      e:reset()
      local home = dir .. "/home51"
      assert(sh("mkdir -p " .. q(home .. "/.paperspace")))
      write(home .. "/.paperspace/config.yml", "team: acme\n")
      write(home .. "/.paperspace/credentials.yml", "version: 1\nkeys:\n  acme: " .. KEY .. "\n")
      write(dir .. "/compat.env", "export A=\"" .. value("compat-a-5e5e\nline 2") .. "\"\r\nB='" .. value("compat b 6f6f")
            .. "' # c\n")
      local function cmd(args, stdin)
        local r = {}
        local out = dir .. "/compat.out"
        local code = helpers.exit_code(string.format(
          "env -i PATH=%s HOME=%s PAPERSPACE_API_URL=%s LUA_CPATH='build/compat-%s/?.so;;' %s bin/paperspace %s "
          .. "<%s >%s 2>&1", q(os.getenv("PATH")), q(home), q(e.url), lua, lua, args,
          stdin and q(write(dir .. "/compat.in", stdin)) or "/dev/null", q(out)))
        r.out, r.code = read(out), code
        assert_secret_free(r.out, lua .. " paperspace " .. args)
        return r
      end
      local r = cmd("whoami")
      assert.equal(0, r.code, r.out)
      assert.equal("user  user-1  ada@example.com\nteam  team-1  Acme\n", r.out)
      r = cmd("secrets sync " .. q(dir .. "/compat.env") .. " --prune --json")
      assert.equal(0, r.code, r.out)
      assert.equal(2, cjson.decode(r.out).created)
      r = cmd("secrets set C", value("compat-c-7a7a") .. "\n")
      assert.equal("created C\n", r.out)
      local st = e:state().secrets
      assert.equal("compat-a-5e5e\nline 2", st.A.value)
      assert.equal("compat b 6f6f", st.B.value)
      assert.equal("compat-c-7a7a", st.C.value)
      assert.is_nil(st.OLD)
      r = cmd("secrets get NOPE")
      assert.equal(4, r.code)
      r = cmd("nope")
      assert.equal(2, r.code)
    end)
  end
end)

describe("paperspace (installed) against Prism (the API description)", function()
  local prism = require "spec.support.prism"
  local server

  setup(function()
    local ok, why = prism.available()
    assert(ok, "the contract tests need the Prism mock server: " .. tostring(why))
    local err
    server, err = prism.start { spec = "openapi/paperspace-team-auth.yml" }
    assert(server, err)
  end)
  teardown(function()
    if server then server:stop() end
  end)

  -- Runs the command against Prism: it must succeed, and Prism must have
  -- seen exactly `want` (method and path, in any order) and found no fault.
  local function accepted(args, want, opts)
    opts = opts or {}
    opts.url = server.url
    local mark = server:mark()
    local r = run(args, opts)
    assert.equal(0, r.code, args .. ": " .. r.err)
    local seen = {}
    for _, req in ipairs(server:requests_since(mark)) do
      seen[#seen + 1] = req.method:upper() .. " " .. req.path
      assert.same({}, req.problems, "Prism on " .. args .. ":\n" .. table.concat(req.problems, "\n"))
    end
    table.sort(seen)
    table.sort(want)
    assert.same(want, seen)
    return r
  end

  it("every command sends requests the description accepts", function()
    local r = accepted("whoami --json", { "GET /auth/session" })
    assert.is_string(json(r).user.id)
    accepted("members list", { "GET /auth/session", "GET /teams/string/users" })
    accepted("members list --admins --json --team t1", { "GET /teams/t1/users" })
    accepted("members promote u1 --team t1", { "PUT /teams/t1/users/u1" })
    accepted("members demote u1 --team t1 --json", { "PUT /teams/t1/users/u1" })
    accepted("members remove u1 --yes --team t1", { "DELETE /teams/t1/users/u1" })
    accepted("secrets list --team t1", { "GET /teams/t1/secrets" })
    accepted("secrets get A --team t1 --json", { "GET /teams/t1/secrets/A" })
    accepted("secrets set A --team t1", { "PATCH /teams/t1/secrets/A" }, { stdin = value("prism-value-71e0") })
    accepted("secrets delete A --team t1", { "DELETE /teams/t1/secrets/A" })
    write(dir .. "/prism.env", "A=" .. value("prism-a-value-2c4d") .. "\nB='" .. value("prism b value 9e") .. "'\n")
    accepted("secrets sync prism.env --team t1 --dry-run --prune", { "GET /teams/t1/secrets" })
    -- Prism's list holds one secret, named "string": --prune deletes it.
    r = accepted("secrets sync prism.env --team t1 --prune",
                 { "GET /teams/t1/secrets", "PATCH /teams/t1/secrets/A", "PATCH /teams/t1/secrets/B",
                   "DELETE /teams/t1/secrets/string" })
    assert.matches("2 updated, 1 deleted, 0 failed", r.out)
  end)
end)

describe("the generated files", function()
  it("doc/paperspace.1 and completions/paperspace.bash are up to date (make man)", function()
    local out = os.tmpname()
    local comp = os.tmpname()
    assert.is_true(sh("lua5.4 scripts/cli-docs " .. q(out) .. " " .. q(comp)))
    assert.equal(read("doc/paperspace.1"), read(out), "doc/paperspace.1 is stale: run make man")
    assert.equal(read("completions/paperspace.bash"), read(comp), "completions/paperspace.bash is stale: run make man")
    os.remove(out)
    os.remove(comp)
  end)

  it("the bash completion completes commands and options", function()
    local p = assert(io.popen([[bash -c 'source completions/paperspace.bash
      COMP_WORDS=(paperspace secrets sy); COMP_CWORD=2; _paperspace; echo "${COMPREPLY[*]}"
      COMP_WORDS=(paperspace secrets sync --pr); COMP_CWORD=3; _paperspace; echo "${COMPREPLY[*]}"
      complete -p paperspace']]))
    local out = p:read("*a")
    p:close()
    local commands, options, spec = out:match("^([^\n]*)\n([^\n]*)\n([^\n]*)\n$")
    assert.equal("sync", commands)
    assert.matches("%-%-prune", options)
    assert.matches("^complete .*%-F _paperspace paperspace$", spec)
  end)
end)
