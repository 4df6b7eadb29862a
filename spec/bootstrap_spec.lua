-- A bare Debian or Ubuntu image: scripts/install-deps, run with bash alone,
-- names everything the quick start needs (make and a compiler included) and
-- the apt-get command; scripts/install-prism says what it does about a
-- Node.js older than Prism accepts. Both in their --dry-run mode, against
-- stand-ins for dpkg-query and node, so nothing is installed.
-- spec tags: external
local helpers = require "spec.support.helpers"
local run = helpers.run

local function write(path, s, mode)
  local f = assert(io.open(path, "w"))
  f:write(s)
  f:close()
  if mode then assert(run("chmod " .. mode .. " '" .. path .. "'")) end
end

describe("on a bare machine", function()
  local fake
  setup(function()
    fake = os.tmpname()
    os.remove(fake)
    assert(run("mkdir -p '" .. fake .. "'"))
    -- dpkg-query knows of no installed package.
    write(fake .. "/dpkg-query", "#!/bin/sh\nexit 1\n", "755")
    -- node 18.19.1, Ubuntu 24.04's: too old for Prism.
    write(fake .. "/node", "#!/bin/sh\n"
          .. "case \"$1\" in --version) echo v18.19.1 ;; -e) exit 1 ;; esac\n", "755")
  end)
  teardown(function() run("rm -rf '" .. fake .. "'") end)

  it("install-deps names make, gcc and the rest of the quick start's packages, and the apt-get command", function()
    local out, ok = run(string.format("PATH='%s':\"$PATH\" bash scripts/install-deps --dry-run", fake))
    assert.is_true(ok, out)
    local missing = assert(out:match("install%-deps: missing: ([^\n]*)"), out)
    for _, pkg in ipairs { "make", "gcc", "pkg-config", "lua5.4", "liblua5.4-dev", "libcurl4-openssl-dev",
                           "lua-cjson", "lua-socket" } do
      assert.matches(" " .. pkg:gsub("%p", "%%%0") .. " ", " " .. missing .. " ", nil, false, pkg)
    end
    assert.matches("would run: apt-get update && apt-get install -y --no-install-recommends --no-remove ",
                   out, 1, true)
  end)

  it("install-deps --test adds what make test needs", function()
    local out, ok = run(string.format("PATH='%s':\"$PATH\" bash scripts/install-deps --test --dry-run", fake))
    assert.is_true(ok, out)
    for _, pkg in ipairs { "lua-busted", "luarocks", "lua5.1", "luajit2", "lua-ldoc" } do
      assert.matches(" " .. pkg:gsub("%p", "%%%0") .. "[ \n]", out, nil, false, pkg)
    end
  end)

  it("install-deps with everything installed has nothing to do", function()
    local out, ok = run("bash scripts/install-deps --test --dry-run")
    assert.is_true(ok, out)
    assert.matches("nothing missing", out, 1, true)
  end)

  it("install-prism says a node older than Prism accepts will be replaced by Node.js 20 from npm", function()
    local out, ok = run(string.format("PATH='%s':\"$PATH\" bash scripts/install-prism --dry-run", fake))
    assert.is_true(ok, out)
    assert.matches("node v18.19.1 is older than Prism accepts (>= 18.20.1)", out, 1, true)
    assert.matches("would install Node.js 20.", out, 1, true)
    assert.matches("from npm into .tools/node", out, 1, true)
  end)

  it("install-prism keeps a node Prism accepts", function()
    local out, ok = run("bash scripts/install-prism --dry-run")
    assert.is_true(ok, out)
    assert.matches("install%-prism: node v%d+%.%d+%.%d+ runs Prism", out)
  end)

  it("the README's quick start says to run scripts/install-deps first where make is missing", function()
    local f = assert(io.open("README.md"))
    local readme = f:read("*a")
    f:close()
    local quick = assert(readme:match("\n## Quick start\n(.-)\n## "))
    assert.matches("make quickstart", quick, 1, true)
    assert.matches("make test", quick, 1, true)
    assert.matches("bash scripts/install-deps", quick, 1, true)
  end)
end)
