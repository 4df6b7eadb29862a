-- The retry policy as tables of cases: which failures are retried for which
-- methods, what the server may say about it, and how long to wait.
local retry = require "paperspace.retry"

describe("retry.should_retry", function()
  local cases = {
    -- status / kind, method, extra fields, expected
    { "408 GET", { kind = "http", status = 408 }, "GET", true },
    { "429 GET", { kind = "rate_limited", status = 429 }, "GET", true },
    { "500 GET", { kind = "server_error", status = 500 }, "GET", true },
    { "502 PUT", { kind = "server_error", status = 502 }, "PUT", true },
    { "503 PATCH", { kind = "server_error", status = 503 }, "PATCH", true },
    { "504 DELETE", { kind = "server_error", status = 504 }, "DELETE", true },
    { "501 GET", { kind = "server_error", status = 501 }, "GET", false },
    { "400 GET", { kind = "bad_request", status = 400 }, "GET", false },
    { "401 GET", { kind = "authentication", status = 401 }, "GET", false },
    { "403 GET", { kind = "permission_denied", status = 403 }, "GET", false },
    { "404 GET", { kind = "not_found", status = 404 }, "GET", false },
    { "409 PUT", { kind = "conflict", status = 409 }, "PUT", false },
    { "422 PATCH", { kind = "unprocessable", status = 422 }, "PATCH", false },
    { "timeout GET", { kind = "timeout", request_sent = true }, "GET", true },
    { "connection GET", { kind = "connection", request_sent = true }, "GET", true },
    { "tls GET", { kind = "tls", request_sent = false }, "GET", false },
    { "invalid_response GET", { kind = "invalid_response", status = 200 }, "GET", false },
    -- POST: only when the server provably did nothing
    { "POST refused connection", { kind = "connection", request_sent = false }, "POST", true },
    { "POST connect timeout", { kind = "timeout", request_sent = false }, "POST", true },
    { "POST dropped after sending", { kind = "connection", request_sent = true }, "POST", false },
    { "POST timeout after sending", { kind = "timeout", request_sent = true }, "POST", false },
    { "POST 429", { kind = "rate_limited", status = 429 }, "POST", true },
    { "POST 503", { kind = "server_error", status = 503 }, "POST", true },
    { "POST 500", { kind = "server_error", status = 500 }, "POST", false },
    { "POST 502", { kind = "server_error", status = 502 }, "POST", false },
    { "POST 408", { kind = "http", status = 408 }, "POST", false },
    -- x-should-retry overrides either way
    { "x-should-retry true on 400",
      { kind = "bad_request", status = 400, headers = { ["x-should-retry"] = "true" } }, "GET", true },
    { "x-should-retry true on POST 500",
      { kind = "server_error", status = 500, headers = { ["x-should-retry"] = "true" } }, "POST", true },
    { "x-should-retry false on 503",
      { kind = "server_error", status = 503, headers = { ["x-should-retry"] = "false" } }, "GET", false },
    { "x-should-retry garbage is ignored",
      { kind = "server_error", status = 503, headers = { ["x-should-retry"] = "maybe" } }, "GET", true },
  }
  for _, case in ipairs(cases) do
    it(case[1] .. (case[4] and " is retried" or " is not retried"), function()
      assert.equal(case[4], retry.should_retry(case[2], case[3]))
    end)
  end
end)

describe("retry.server_delay", function()
  local now = retry.parse_http_date("Mon, 23 Nov 2026 10:00:00 GMT")
  local cases = {
    { "retry-after-ms", { ["retry-after-ms"] = "250" }, 0.25 },
    { "retry-after-ms beats Retry-After", { ["retry-after-ms"] = "100", ["retry-after"] = "7" }, 0.1 },
    { "Retry-After seconds", { ["retry-after"] = "3" }, 3 },
    { "Retry-After with spaces", { ["retry-after"] = " 2 " }, 2 },
    { "Retry-After zero", { ["retry-after"] = "0" }, 0 },
    { "Retry-After at the cap", { ["retry-after"] = "60" }, 60 },
    { "Retry-After over the cap", { ["retry-after"] = "61" }, nil },
    { "retry-after-ms over the cap", { ["retry-after-ms"] = "60001" }, nil },
    { "negative", { ["retry-after"] = "-1" }, nil },
    { "garbage", { ["retry-after"] = "soon" }, nil },
    { "hex", { ["retry-after"] = "0x10" }, nil },
    { "garbage ms falls back to Retry-After", { ["retry-after-ms"] = "abc", ["retry-after"] = "4" }, 4 },
    { "HTTP date 10 s ahead", { ["retry-after"] = "Mon, 23 Nov 2026 10:00:10 GMT" }, 10 },
    { "HTTP date in the past", { ["retry-after"] = "Mon, 23 Nov 2026 09:59:00 GMT" }, nil },
    { "HTTP date too far", { ["retry-after"] = "Mon, 23 Nov 2026 10:05:00 GMT" }, nil },
    { "RFC 850 date", { ["retry-after"] = "Monday, 23-Nov-26 10:00:05 GMT" }, 5 },
    { "asctime date", { ["retry-after"] = "Mon Nov 23 10:00:30 2026" }, 30 },
    { "broken date", { ["retry-after"] = "Mon, 99 Foo 2026 10:00:10 GMT" }, nil },
    { "no headers", {}, nil },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      assert.equal(case[3], retry.server_delay(case[2], now))
    end)
  end
end)

describe("retry.parse_http_date", function()
  it("reads RFC 9110's example in its three forms", function()
    assert.equal(784111777, retry.parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"))
    assert.equal(784111777, retry.parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"))
    assert.equal(784111777, retry.parse_http_date("Sun Nov  6 08:49:37 1994"))
  end)
  it("agrees with the epoch and leap years", function()
    assert.equal(0, retry.parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"))
    assert.equal(951782400, retry.parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT"))
  end)
  it("refuses what is not a date", function()
    assert.is_nil(retry.parse_http_date(""))
    assert.is_nil(retry.parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"))
    assert.is_nil(retry.parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"))
  end)
end)

describe("retry.delay", function()
  it("backs off exponentially from 0.5 s, capped at 8 s", function()
    local want = { 0.5, 1, 2, 4, 8, 8, 8 }
    for n, w in ipairs(want) do assert.equal(w, retry.delay(n - 1, nil, 0)) end
  end)

  it("jitters down by at most a quarter", function()
    for n = 0, 6 do
      local full = math.min(0.5 * 2 ^ n, 8)
      assert.equal(full * 0.75, retry.delay(n, nil, 1))
      for _ = 1, 50 do
        local d = retry.delay(n, nil)
        assert.is_true(d > full * 0.75 - 1e-9 and d <= full, "delay out of bounds: " .. d)
      end
    end
  end)

  it("takes the server's word when it is between 0 and 60 s", function()
    assert.equal(0.05, retry.delay(3, { ["retry-after-ms"] = "50" }, 0))
    assert.equal(0.5, retry.delay(0, { ["retry-after"] = "120" }, 0)) -- too long: backoff
  end)
end)
