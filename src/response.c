/*
 * response.c: a finished attempt, read once into a ps_response (status,
 * duration, request id, decoded body), from which either the result is
 * pushed or, through errors.c, the error. Any 2xx is success: the API
 * description promises 201 and 204 where the production API answers 200
 * with a JSON body, and both are handled. JSON is decoded by lua-cjson.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "paperspace.h"

/* Reads what the attempt got: its status (0 when no response came) and
 * how long it took; the body is decoded only where it is used. */
static void read_response(ps_response *r, ps_transfer *t) {
    curl_off_t us = 0;
    memset(r, 0, sizeof *r);
    r->t = t;
    if (curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r->status) != CURLE_OK ||
        r->status < 0)
        r->status = 0;
    if (curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &us) != CURLE_OK)
        us = 0;
    r->elapsed = (lua_Number)us / 1e6;
}

/* The error of response r with `kind`; `fmt` (NULL: the body's) gives
 * the message. What identifies the response is found here, once. */
static int push_error(lua_State *L, ps_response *r, const char *kind, const char *fmt,
                      const char *arg) {
    if (r->status > 0) {
        r->request_id = ps_header_find(&r->t->head, "x-request-id", &r->request_id_len);
        r->content_type = ps_header_find(&r->t->head, "content-type", &r->content_type_len);
    }
    return ps_error_push(L, r, kind, fmt, arg);
}

/* The error of an attempt that got no usable response: nothing of
 * whatever came is reported. */
static int push_transport_error(lua_State *L, ps_response *r, const char *kind, const char *fmt,
                                const char *arg) {
    r->status = 0;
    r->body = 0;
    return push_error(L, r, kind, fmt, arg);
}

/* Decodes the body with lua-cjson; pushes the value and returns 1, or
 * pushes lua-cjson's message and returns 0. */
static int decode_body(lua_State *L, ps_transfer *t) {
    lua_pushvalue(L, PS_UPV_DECODE);
    lua_pushlstring(L, t->body.data, t->body.len);
    lua_call(L, 1, 2);
    if (lua_isnil(L, -2)) {
        lua_remove(L, -2);
        return 0;
    }
    lua_pop(L, 1);
    return 1;
}

static int is_json_null(lua_State *L, int idx) {
    return lua_rawequal(L, idx, PS_UPV_NULL);
}

/* Whether the value at idx is a JSON object as lua-cjson decodes one: a
 * table without an item [1] (an array's items have integer keys from 1;
 * an empty object and an empty array decode alike). */
static int is_json_object(lua_State *L, int idx) {
    int object = lua_istable(L, idx);
    if (object) {
        lua_rawgeti(L, idx, 1);
        object = lua_isnil(L, -1);
        lua_pop(L, 1);
    }
    return object;
}

static int push_success(lua_State *L, ps_response *r) {
    const ps_operation *op = r->t->req.op;
    if (op->result == PS_RESULT_NONE) {
        lua_pushboolean(L, 1);
        return 1;
    }
    /* The body stays undecoded in the error: it is what failed. */
    if (r->t->body.len == 0)
        return push_error(L, r, "invalid_response", "expected a JSON body, got an empty response",
                          NULL);
    if (!decode_body(L, r->t))
        return push_error(L, r, "invalid_response", "response body is not valid JSON: %s",
                          lua_tostring(L, -1));
    if (is_json_null(L, -1) && op->result != PS_RESULT_NULLABLE)
        return push_error(L, r, "invalid_response", "expected a JSON %s, got null", op->item);
    if (!is_json_null(L, -1) && !lua_istable(L, -1))
        return push_error(L, r, "invalid_response", "expected a JSON object or array, got a %s",
                          luaL_typename(L, -1));
    /* One session, member or secret must be an object, not an array. */
    if (!op->paged && lua_istable(L, -1) && !is_json_object(L, -1))
        return push_error(L, r, "invalid_response", "expected a JSON object (a %s), got an array",
                          op->item);
    return 1;
}

static int push_failure(lua_State *L, ps_response *r) {
    const char *kind = ps_error_kind_for_status(r->status);
    long s = r->status;
    if (r->t->body.len > 0) {
        if (decode_body(L, r->t))
            r->body = lua_gettop(L);
        else
            lua_pop(L, 1);
    }
    if (s == 301 || s == 302 || s == 303 || s == 307 || s == 308) {
        size_t len;
        const char *loc = ps_header_find(&r->t->head, "location", &len);
        if (loc != NULL)
            lua_pushlstring(L, loc, len);
        else
            lua_pushliteral(L, "an unnamed location");
        return push_error(L, r, kind, "unexpected redirect to %s (redirects are not followed)",
                          lua_tostring(L, -1));
    }
    return push_error(L, r, kind, NULL, NULL);
}

/* https:// pointed at a plain-HTTP server: one that answers in plain text
 * makes OpenSSL report a "wrong version number"; one that waits for a request
 * line lets the handshake time out after the TCP connection was made. Both
 * are told as TLS failures naming the likely cause (and so not retried). */
#define PLAIN_HTTP_HINT "is it a plain-HTTP server? use an http:// base_url for one"

static int handshake_stalled(ps_transfer *t, CURLcode rc) {
    /* libcurl records no connect time for a failed attempt; its message
     * tells a stalled handshake from a stalled TCP connection. */
    return rc == CURLE_OPERATION_TIMEDOUT && t->req.url.len >= 6 &&
           strncasecmp(t->req.url.data, "https:", 6) == 0 &&
           strstr(t->errbuf, "SSL connection timeout") != NULL;
}

/* The result of response r: the decoded value (JSON null as lua-cjson's
 * null, `true` for an operation without a result), or `nil, err`. */
static int push_result(lua_State *L, ps_response *r) {
    ps_transfer *t = r->t;
    CURLcode rc = t->rc;
    const char *why = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
    if (t->overflow) {
        char limit[32];
        snprintf(limit, sizeof limit, "%lld", (long long)t->client->max_response_bytes);
        return push_error(L, r, "invalid_response",
                          "response body exceeds max_response_bytes (%s bytes)", limit);
    }
    if (handshake_stalled(t, rc))
        return push_transport_error(L, r, "tls",
                                    "no TLS handshake from the server (%s) (" PLAIN_HTTP_HINT ")",
                                    why);
    if (rc == CURLE_SSL_CONNECT_ERROR && strstr(t->errbuf, "wrong version number") != NULL)
        return push_transport_error(L, r, "tls", "%s (" PLAIN_HTTP_HINT ")", t->errbuf);
    if (t->conflict)
        return push_error(L, r, "invalid_response",
                          "the response has two different Content-Length headers", NULL);
    if (rc != CURLE_OK)
        return push_transport_error(L, r, ps_error_kind_for_curl(rc, t->errbuf), "%s", why);
    if (r->status >= 200 && r->status < 300)
        return push_success(L, r);
    return push_failure(L, r);
}

/* Pushes the record of response r, for this call alone, as an array
 * (cheap to make for every call; the Lua layer names its fields):
 * {status, elapsed, method, url, path, head}, where `head` is the
 * response's raw header block (trailers left out), scrubbed, and status and
 * head are nil when no response came. */
static void push_record(lua_State *L, const ps_response *r) {
    ps_transfer *t = r->t;
    lua_createtable(L, 6, 0);
    if (r->status > 0) {
        lua_pushinteger(L, (lua_Integer)r->status);
        lua_rawseti(L, -2, 1);
        lua_pushlstring(L, t->head.data ? t->head.data : "", t->head.len);
        ps_scrub_top(L, t);
        lua_rawseti(L, -2, 6);
    }
    lua_pushnumber(L, r->elapsed);
    lua_rawseti(L, -2, 2);
    lua_pushstring(L, t->req.op->method);
    lua_rawseti(L, -2, 3);
    ps_request_push_url(L, &t->req);
    lua_rawseti(L, -2, 4);
    ps_request_push_path(L, &t->req);
    lua_rawseti(L, -2, 5);
}

/* Pushes `value, err, record` of the attempt transfer t made, which has
 * ended (t->rc): value or err is nil. Returns 3. */
int ps_response_push(lua_State *L, ps_transfer *t) {
    ps_response r;
    luaL_checkstack(L, 12, NULL);
    read_response(&r, t);
    if (push_result(L, &r) == 1)
        lua_pushnil(L);
    push_record(L, &r);
    ps_transfer_release(t);
    return 3; /* what was pushed under them (a decoded body) is left behind */
}

/* core.set_metatables(list, mt) -> nil | i: gives `mt` to every item of the
 * array `list`, in order, while each is a JSON object; returns the index of the first item that is not one, having stopped there.
 * team.wrap makes a decoded list's items objects with it: one loop in C, not
 * a call from Lua per item (a list may hold 10,000 members). */
int ps_set_metatables(lua_State *L) {
    lua_Integer i;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    for (i = 1;; i++) {
        lua_rawgeti(L, 1, i);
        if (lua_isnil(L, -1))
            return 0;
        if (!is_json_object(L, -1)) {
            lua_pushinteger(L, i);
            return 1;
        }
        lua_pushvalue(L, 2);
        lua_setmetatable(L, -2);
        lua_pop(L, 1);
    }
}
