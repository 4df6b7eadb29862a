-- The rock built for Lua 5.1 (`luarocks --lua-version=5.1 make`, as the
-- README tells Neovim and OpenResty users) loads and works inside both real
-- hosts: Neovim's LuaJIT and nginx's lua-nginx-module, each against the
-- emulator, from the installed tree alone (not from the clone).
-- spec tags: external
local helpers = require "spec.support.helpers"
local read, write, tmpdir, quote = helpers.read, helpers.write, helpers.tmpdir, helpers.quote

local MODULES = { "/usr/lib/nginx/modules/ndk_http_module.so", "/usr/lib/nginx/modules/ngx_http_lua_module.so" }
local LIMIT = 60 -- seconds a host may take (valgrind and a loaded machine included)

local native = helpers.native

describe("the rock built for Lua 5.1", function()
  local work, tree, etc, emu, lpath, cpath

  setup(function()
    for _, m in ipairs(MODULES) do
      assert(io.open(m), m .. " not found: scripts/install-deps --test installs libnginx-mod-http-lua")
    end
    assert(select(2, helpers.run("command -v nvim")), "nvim not found: scripts/install-deps --test installs neovim")
    work, tree, etc = tmpdir(), tmpdir(), tmpdir()
    assert(native(string.format("cp -r src lua bin *.rockspec %s/", quote(work))))
    -- LuaRocks' own configuration, its system tree moved to a fresh folder.
    assert(native(string.format("cp /etc/luarocks/*.lua %s/", quote(etc))))
    write(etc .. "/config-5.1.lua", "rocks_trees = { [[" .. tree .. "]] }\n")
    local out, ok = native(string.format("cd %s && HOME=%s LUAROCKS_SYSCONFDIR=%s luarocks --lua-version=5.1 make " ..
                                         "--deps-mode=none lua-paperspace-0.1.0-1.rockspec",
                                         quote(work), quote(etc), quote(etc)))
    assert(ok, out)
    assert(io.open(tree .. "/lib/lua/5.1/paperspace/core.so"), out)
    lpath = tree .. "/share/lua/5.1/?.lua;" .. tree .. "/share/lua/5.1/?/init.lua;"
    cpath = tree .. "/lib/lua/5.1/?.so;"
    emu = helpers.emulator()
  end)

  teardown(function()
    if emu then emu:stop() end
    native(string.format("rm -rf %s %s %s", quote(work or ""), quote(tree or ""), quote(etc or "")))
  end)

  it("works in Neovim", function()
    local script = tmpdir() .. "/check.lua"
    write(script, string.format([[
package.path = %q .. package.path
package.cpath = %q .. package.cpath
local paperspace = require "paperspace"
local client = paperspace.new { base_url = %q, api_key = %q }
local session = assert(client:get_session())
client:close()
io.stdout:write("FROM ", package.searchpath("paperspace.core", package.cpath), " TEAM ", session.team.id, "\n")
]], lpath, cpath, emu.url, emu.api_key))
    -- From / and without the clone's folders on any path.
    local out, ok = native(string.format("cd / && timeout -k 5 %d nvim --headless -u NONE -i NONE -n " ..
                                         "-c %s -c 'qa!' </dev/null", LIMIT, quote("luafile " .. script)))
    os.remove(script)
    assert.is_true(ok, out)
    assert.matches("FROM " .. tree:gsub("%p", "%%%0") .. "/lib/lua/5.1/paperspace/core.so TEAM team%-1", out)
  end)

  it("works in nginx with lua-nginx-module", function()
    local dir = tmpdir()
    local port = assert(helpers.free_port())
    write(dir .. "/nginx.conf", string.format([[
load_module %s;
load_module %s;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;
  lua_package_path "%s;;";
  lua_package_cpath "%s;;";
  server {
    listen 127.0.0.1:%d;
    location = /session {
      content_by_lua_block {
        local paperspace = require "paperspace"
        local client = paperspace.new { base_url = %q, api_key = %q }
        local session = assert(client:get_session())
        client:close()
        ngx.say("FROM ", package.searchpath("paperspace.core", package.cpath), " TEAM ", session.team.id)
      }
    }
  }
}
]], MODULES[1], MODULES[2], dir, dir, dir, dir, dir, dir, dir, lpath, cpath, port, emu.url, emu.api_key))
    local out, ok = native(string.format("nginx -p %s -c %s/nginx.conf -e %s/error.log", quote(dir), quote(dir),
                                         quote(dir)))
    assert(ok, out)
    local body
    finally(function()
      local pid = read(dir .. "/nginx.pid")
      if pid then native("kill " .. pid:match("%d+")) end
      helpers.run("sleep 0.2; rm -rf " .. quote(dir))
    end)
    assert.is_true(helpers.wait_for_port(port, 10))
    body, ok = native(string.format("curl -s -m %d http://127.0.0.1:%d/session", LIMIT, port))
    assert.is_true(ok, body)
    assert.matches("FROM " .. tree:gsub("%p", "%%%0") .. "/lib/lua/5.1/paperspace/core.so TEAM team%-1", body)
    assert.not_matches("exited on signal", read(dir .. "/error.log") or "")
  end)
end)
