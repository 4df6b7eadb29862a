--- Turns the benchmark's measurements into one Markdown table, with the
-- targets checked from the numbers, and writes it to stdout and to `out`.
--
--   lua5.4 bench/report.lua raw=build/bench/raw.txt probe=build/bench/probe.log out=results.md ...
--
-- `raw` holds `row.key value` lines (a key repeated once per round: the
-- median counts); `probe` is nginx's log of the one request each client made
-- to /teams/probe-NAME/users, which tells its protocol and connection reuse.
-- The date, machine and tool versions come from BENCH_* environment variables.

local common = require "common"
local core = require "paperspace.core"

local a = common.args(arg)

-- Measurements -------------------------------------------------------------

local raw = {}
local function add(key, value)
  raw[key] = raw[key] or {}
  table.insert(raw[key], value)
end
for line in io.lines(common.need(a, "raw")) do
  local key, value = line:match("^(%S+)%s+(.-)%s*$")
  local who = key and key:match("^(.*)%.burst$")
  if who then
    -- "name.burst n seconds": one burst's rate, and its size.
    local n, seconds = value:match("^(%S+)%s+(%S+)$")
    add(who .. ".rate", tonumber(n) / tonumber(seconds))
    add(who .. ".burst_size", tonumber(n))
  elseif key then
    add(key, tonumber(value) or value)
  end
end

--- The median of a numeric key over the rounds; nil when it was not measured.
local function m(key)
  local list = raw[key]
  if not list or type(list[1]) ~= "number" then return nil end
  local copy = {}
  for i, v in ipairs(list) do copy[i] = v end
  return common.median(copy)
end

--- The median over the rounds of `a / b`, each round's burst of `a` against
-- the same round's burst of `b`: neighbours in time, so a busy moment on the
-- machine weighs on both. Falls back to the ratio of the medians.
local function ratios_of(a_key, b_key)
  local xs, ys, ratios = raw[a_key], raw[b_key], {}
  if not xs or not ys or #xs ~= #ys then return nil end
  for i = 1, #xs do ratios[i] = xs[i] / ys[i] end
  table.sort(ratios)
  return ratios
end

local function paired(a_key, b_key)
  local ratios = ratios_of(a_key, b_key)
  if not ratios then return m(a_key) and m(b_key) and m(a_key) / m(b_key) end
  return common.median(ratios)
end

--- The middle half of the rounds' ratios, as " (q1-q3)": how much the
-- machine moved the ratio while it was measured.
local function spread(a_key, b_key)
  local r = ratios_of(a_key, b_key)
  if not r or #r < 4 then return "" end
  local function q(p) return r[math.max(1, math.min(#r, math.floor(p * (#r - 1) + 1.5)))] end
  return string.format(" (%.2f-%.2f)", q(0.25), q(0.75))
end

--- A string key (the same in every round).
local function s(key)
  return raw[key] and tostring(raw[key][1])
end

-- Protocols, from the probe requests: "scheme uri protocol connection_requests ssl".
local probes = {}
local pf = io.open(a.probe or "", "r")
if pf then
  for line in pf:lines() do
    local scheme, who, proto, reqs, tls = line:match("^(%S+) /teams/probe%-([%w-]+)/users (%S+) (%d+) (%S+)")
    if scheme then
      local key = scheme .. "." .. who
      local p = probes[key] or { reqs = {} }
      p.proto, p.tls = proto:gsub("%.0$", ""), tls ~= "-" and tls ~= "" and tls or nil
      table.insert(p.reqs, tonumber(reqs))
      probes[key] = p
    end
  end
  pf:close()
end

-- "HTTP/2 (TLSv1.3), 1 connection": the protocol nginx saw, and whether the
-- timed requests all went over the probe's connection.
local function protocol(scheme, who, timed)
  local p = probes[scheme .. "." .. who]
  if not p then return "?" end
  local text = p.proto .. (p.tls and (" over " .. p.tls) or "")
  local min = math.huge
  for _, r in ipairs(p.reqs) do min = math.min(min, r) end
  if timed and min > timed then
    text = text .. ", 1 connection"
  elseif min == 1 then
    text = text .. ", a new connection per request"
  end
  return text
end

local function floor_protocol(scheme)
  local v = s(scheme .. ".floor.http_version") or "?"
  local connects = m(scheme .. ".floor.connects")
  if connects == 0 then v = v .. ", 1 connection" end
  return v
end

-- Formatting ---------------------------------------------------------------

local function thousands(n)
  local str = string.format("%d", math.floor(n + 0.5))
  local out = str:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

local function rate(x) return x and (thousands(x) .. " req/s") or "n/a" end
local function ms(x) return x and string.format("%.1f ms", x) or "n/a" end
local function secs(x) return x and string.format("%.2f s", x) or "n/a" end
local function times(x) return x and string.format("%.2fx", x) or "n/a" end
local function kib(x) return x and (thousands(x) .. " KiB") or "n/a" end
local function ratio(x, y) return x and y and y ~= 0 and x / y or nil end

local rows = {}
local function row(...) rows[#rows + 1] = { ... } end

-- Targets: each is checked here from the numbers above.
local targets = {}
local function target(name, ok, detail)
  targets[#targets + 1] = { name = name, ok = ok, detail = detail }
  if ok == nil then return "n/a" end
  return ok and "**met**" or "**not met**"
end

local requests = m("http.client.requests")
local warmup_plus = requests and requests + 1

-- Sequential GETs ------------------------------------------------------------

for _, scheme in ipairs { "http", "https" } do
  local label = scheme == "http" and "HTTP" or "HTTPS"
  local key = function(who) return scheme .. "." .. who .. ".rate" end
  local vs_floor = paired(key("client"), key("floor"))
  row(label .. ": C program, libcurl easy handle (the floor; no JSON decoding)",
      floor_protocol(scheme), rate(m(key("floor"))), "1.00x", "", "")
  row(label .. ": **lua-paperspace** `client:list_team_members` (decodes into member objects)",
      protocol(scheme, "client", warmup_plus), rate(m(key("client"))),
      times(vs_floor) .. " of C" .. spread(key("client"), key("floor")),
      ">= 0.9x of C",
      target(label .. ": lua-paperspace >= 0.9x of plain libcurl", vs_floor and vs_floor >= 0.9,
             string.format("%s of C", times(vs_floor))))
  if scheme == "http" then
    row("HTTP: LuaSocket `socket.http` + `cjson.decode`", protocol(scheme, "luasocket"),
        rate(m(key("luasocket"))),
        "lua-paperspace " .. times(paired(key("client"), key("luasocket"))) .. " faster"
          .. spread(key("client"), key("luasocket")), "", "")
  else
    -- LuaSec as is stalls ~40 ms a request (Nagle's algorithm against the
    -- server's delayed ACK); with TCP_NODELAY it is bound by the handshake.
    -- The target is judged against the faster of the two.
    local vs_nodelay = paired(key("client"), key("luasocket"))
    row("HTTPS: LuaSec `ssl.https` + `cjson.decode`, as is", protocol(scheme, "luasocket"),
        rate(m(key("luasec"))), "lua-paperspace " .. times(paired(key("client"), key("luasec"))) .. " faster"
          .. spread(key("client"), key("luasec")), "", "")
    row("HTTPS: LuaSec `ssl.https` + `cjson.decode`, with TCP_NODELAY set on its sockets",
        protocol(scheme, "luasocket-nodelay"), rate(m(key("luasocket"))),
        "lua-paperspace " .. times(vs_nodelay) .. " faster" .. spread(key("client"), key("luasocket")),
        "lua-paperspace >= 3x",
        target("HTTPS: lua-paperspace >= 3x LuaSocket/LuaSec", vs_nodelay and vs_nodelay >= 3,
               string.format("%s LuaSec's rate with TCP_NODELAY, %s as is", times(vs_nodelay),
                             times(paired(key("client"), key("luasec"))))))
  end
  local luacurl_libcurl = s(scheme .. ".luacurl.version") or "libcurl"
  local vs_luacurl = paired(key("client"), key("luacurl"))
  row(label .. ": Lua-cURL (Debian `lua-curl` 0.3.0, Lua 5.1, " .. luacurl_libcurl
        .. "), one easy handle + `cjson.decode`",
      protocol(scheme, "luacurl", warmup_plus), rate(m(key("luacurl"))),
      "lua-paperspace " .. times(vs_luacurl) .. " its rate" .. spread(key("client"), key("luacurl")),
      "lua-paperspace > 1x",
      target(label .. ": lua-paperspace faster than Lua-cURL + cjson", vs_luacurl and vs_luacurl > 1,
             string.format("%s Lua-cURL's rate", times(vs_luacurl))))
end

-- Concurrency ----------------------------------------------------------------

local calls, latency = a.calls or 200, (a.latency or 0.05) * 1000
local seq = m("gather.sequential")
row(string.format("%d `get_session` calls at %g ms latency: one after another", calls, latency),
    "HTTP/1.1 (emulator)", secs(seq), "1.00x", "", "")
local best, best_m
local gathers = {}
for key in pairs(raw) do
  local mc = key:match("^gather%.gather_(%d+)$")
  if mc then gathers[#gathers + 1] = tonumber(mc) end
end
table.sort(gathers)
for _, mc in ipairs(gathers) do
  local speedup = m("gather.speedup_" .. mc)
  if speedup and (best == nil or speedup > best) then best, best_m = speedup, mc end
end
for _, mc in ipairs(gathers) do
  local speedup = m("gather.speedup_" .. mc)
  -- The target is judged on the best setting; the others say whether they
  -- would have met it too.
  local met
  if mc == best_m then
    met = target(string.format("gather >= 10x sequential at %g ms", latency), speedup >= 10,
                 string.format("%s with max_concurrency = %d", times(speedup), mc))
  else
    met = speedup and (speedup >= 10 and "yes, too" or "no, not at this setting") or "n/a"
  end
  row(string.format("... `client:gather` of the %d, max_concurrency = %d%s", calls, mc,
                    mc == 8 and " (the default)" or ""),
      "HTTP/1.1 (emulator)", secs(m("gather.gather_" .. mc)), times(speedup) .. " faster",
      ">= 10x faster (best setting)", met)
end
if not best then target("gather >= 10x sequential", nil, "not measured") end

-- Decoding -------------------------------------------------------------------

local members = m("decode.members") or a.big or 10000
local cj, lib = m("decode.cjson_ms"), m("decode.library_ms")
local dec_ratio = ratio(lib, cj)
row(string.format("Decode %s members: `cjson.decode` alone (median)", thousands(members)), "-", ms(cj),
    "1.00x", "", "")
row("... the library's path: `core.decode` + `team.wrap` into member objects", "-", ms(lib),
    times(dec_ratio) .. " of cjson", "<= 1.3x",
    target("object decoding within 1.3x of cjson.decode", dec_ratio and dec_ratio <= 1.3,
           string.format("%s of cjson.decode", times(dec_ratio))))
local big_rate, big_client, big_decode = m("big.floor.rate"), m("big.client.rate"), m("big.decode.rate")
local fetch_ms = big_rate and 1000 / big_rate
local decode_ms = big_decode and 1000 / big_decode or cj
local floor_total = fetch_ms and decode_ms and fetch_ms + decode_ms
local e2e = big_client and 1000 / big_client
-- Round by round: the client's call against the same round's C fetch plus
-- cjson.decode (a busy moment weighs on both), as the rates above are.
local e2e_rounds
do
  local c, f, d = raw["big.client.rate"], raw["big.floor.rate"], raw["big.decode.rate"]
  if c and f and d and #c == #f and #c == #d then
    e2e_rounds = {}
    for i = 1, #c do e2e_rounds[i] = (1 / c[i]) / (1 / f[i] + 1 / d[i]) end
    table.sort(e2e_rounds)
  end
end
local e2e_ratio = e2e_rounds and common.median(e2e_rounds) or ratio(e2e, floor_total)
local e2e_spread = ""
if e2e_rounds and #e2e_rounds >= 4 then
  local r = e2e_rounds
  local function q(p) return r[math.max(1, math.min(#r, math.floor(p * (#r - 1) + 1.5)))] end
  e2e_spread = string.format(" (%.2f-%.2f)", q(0.25), q(0.75))
end
row(string.format("%s members end to end over HTTP: C libcurl fetch (%s) + `cjson.decode` (%s)",
                  thousands(members), ms(fetch_ms), ms(decode_ms)),
    "HTTP/1.1", ms(floor_total), "1.00x", "", "")
row("... `client:list_team_members(\"big\")`", "HTTP/1.1", ms(e2e),
    times(e2e_ratio) .. " of C + cjson" .. e2e_spread, "<= 1.1x",
    target(string.format("%s members end to end within 1.1x of C + cjson", thousands(members)),
           e2e_ratio and e2e_ratio <= 1.1, string.format("%s of C + cjson", times(e2e_ratio))))

-- Memory ---------------------------------------------------------------------

local rss1, rss2 = m("memory.rss_1000"), m("memory.rss_end")
local mem_calls = m("memory.calls") or a.memory_calls
local growth = rss1 and rss2 and rss2 - rss1
row("Resident memory of one client after 1,000 `list_team_members` calls", "HTTP/1.1", kib(rss1), "", "",
    "")
row(string.format("... after %s calls", thousands(mem_calls or 0)), "HTTP/1.1", kib(rss2),
    growth and string.format("%+d KiB", growth) or "n/a", "growth < 1,024 KiB",
    target(string.format("memory growth < 1 MiB from 1,000 to %s calls", thousands(mem_calls or 0)),
           growth and growth < 1024, string.format("%+d KiB", growth or 0)))

-- Output ---------------------------------------------------------------------

local env = os.getenv
local lines = {}
local function out(line) lines[#lines + 1] = line or "" end

out(string.format("Benchmark run %s on %s (%s cores), %s, Linux %s%s.",
                  env("BENCH_DATE") or os.date("!%Y-%m-%d"), env("BENCH_CPU") or "?",
                  env("BENCH_CORES") or "?", env("BENCH_OS") or "?", env("BENCH_KERNEL") or "?",
                  a.quick == 1 and "; **quick run** (small counts)" or ""))
out()
out("| Measurement | Protocol | Result | Relative | Target | Met |")
out("|---|---|--:|--:|---|---|")
for _, r in ipairs(rows) do out("| " .. table.concat(r, " | ") .. " |") end
out()
local met, total = 0, 0
for _, t in ipairs(targets) do
  total = total + 1
  if t.ok then met = met + 1 end
end
local summary = {}
for _, t in ipairs(targets) do
  summary[#summary + 1] = string.format("%s %s (%s)", t.ok and "MET" or (t.ok == nil and "N/A" or "NOT MET"),
                                        t.name, t.detail)
end
out(string.format("**Targets met: %d of %d.** %s.", met, total, table.concat(summary, "; ")))
out()
local ssl_version = core.ssl_version ~= "" and (", " .. core.ssl_version) or ""
out(string.format("Versions: lua-paperspace %s on %s with libcurl %s%s%s; %s; %s; " ..
                  "LuaSocket %s, LuaSec %s, lua-cjson %s; Lua-cURL on %s with %s.",
                  core.version, env("BENCH_LUA") or _VERSION, core.curl_version, ssl_version,
                  core.http2 and " (HTTP/2)" or "", env("BENCH_NGINX") or "nginx",
                  "TLS certificate ECDSA P-256, self-signed for IP 127.0.0.1",
                  require("socket")._VERSION:gsub("^LuaSocket ", ""), require("ssl")._VERSION,
                  require("cjson")._VERSION, env("BENCH_LUA51") or "Lua 5.1",
                  s("http.luacurl.version") or "?"))
local function size(who) return thousands(m(who .. ".burst_size") or 0) end
out(string.format("Method: every client runs as its own process, connected and warmed up (%s requests), " ..
                  "and makes bursts of sequential GETs in turn: %d rounds of one burst each (%s GETs for " ..
                  "the C program, lua-paperspace and Lua-cURL; LuaSocket %s; LuaSec %s with TCP_NODELAY, " ..
                  "%s as is). A rate is the median of its bursts' rates; a ratio is the median of the " ..
                  "ratios within each round, with the middle half of them in brackets. " ..
                  "Decoding: medians of %s runs; the list end to end, %s rounds of the C fetch, " ..
                  "cjson.decode and the client's call, its ratio taken round by round. %s.",
                  a.warmup or 200, raw["http.floor.rate"] and #raw["http.floor.rate"] or 0,
                  size("http.floor"), size("http.luasocket"), size("https.luasocket"), size("https.luasec"),
                  a.decode_runs or "several", a.decode_runs or "several", env("PINNING") or "Not pinned"))

local text = table.concat(lines, "\n") .. "\n"
io.write(text)
if a.out then
  local f = assert(io.open(a.out, "w"))
  f:write(text)
  f:close()
end
