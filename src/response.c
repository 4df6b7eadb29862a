/*
 * response.c: turns a finished attempt into Lua values. Any 2xx is success:
 * the API description promises 201 and 204 where the production API answers
 * 200 with a JSON body, and both are handled. JSON is decoded by lua-cjson.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "paperspace.h"

long ps_response_status(ps_transfer *t) {
    long status = 0;
    if (curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        return 0;
    return status;
}

static const char *skip_space(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Walks the header block line by line; calls `fn` for every "name: value".
 * Returns as soon as `fn` returns non-zero. */
typedef int (*header_fn)(void *ud, const char *name, size_t nlen, const char *value,
                         size_t vlen);

static int is_status_line(const char *p, const char *line_end) {
    return line_end - p >= 5 && memcmp(p, "HTTP/", 5) == 0;
}

static void each_header(const ps_buf *head, header_fn fn, void *ud) {
    const char *p = head->data, *end;
    if (p == NULL)
        return; /* no header yet: NULL + 0 would be undefined */
    end = p + head->len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon != NULL && colon > p && !is_status_line(p, line_end)) {
            const char *v = skip_space(colon + 1, line_end);
            const char *vend = line_end;
            while (vend > v && (vend[-1] == '\r' || vend[-1] == ' ' || vend[-1] == '\t'))
                vend--;
            if (fn(ud, p, (size_t)(colon - p), v, (size_t)(vend - v)))
                return;
        }
        p = line_end + 1;
    }
}

struct find {
    const char *name;
    size_t nlen;
    const char *value;
    size_t vlen;
};

static int match_header(void *ud, const char *name, size_t nlen, const char *v, size_t vlen) {
    struct find *f = ud;
    if (nlen != f->nlen || strncasecmp(name, f->name, nlen) != 0)
        return 0;
    f->value = v;
    f->vlen = vlen;
    return 1;
}

/* The value of header `name` (case-insensitive) in the last response, not
 * NUL-terminated, or NULL. */
const char *ps_header_find(const ps_buf *head, const char *name, size_t *len) {
    struct find f;
    f.name = name;
    f.nlen = strlen(name);
    f.value = NULL;
    f.vlen = 0;
    each_header(head, match_header, &f);
    *len = f.vlen;
    return f.value;
}

static int set_header(void *ud, const char *name, size_t nlen, const char *v, size_t vlen) {
    lua_State *L = ud;
    char lower[64];
    size_t i;
    if (nlen >= sizeof lower)
        return 0; /* no header we or our users read is that long */
    for (i = 0; i < nlen; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    lua_pushlstring(L, lower, nlen);
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isstring(L, -1)) {
        /* A repeated header joins its values, as RFC 9110 allows. */
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, v, vlen);
        lua_concat(L, 3);
    } else {
        lua_pop(L, 1);
        lua_pushlstring(L, v, vlen);
    }
    lua_rawset(L, -3);
    return 0;
}

/* Pushes the last response's headers as a table with lower-case names. */
void ps_headers_push(lua_State *L, const ps_buf *head) {
    lua_newtable(L);
    each_header(head, set_header, L);
}

/* Decodes the body at the top of the stack with lua-cjson; pushes the value
 * and returns 1, or pushes lua-cjson's message and returns 0. */
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

static int push_success(lua_State *L, ps_transfer *t, long status) {
    const ps_operation *op = t->req.op;
    if (op->result == PS_RESULT_NONE) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (t->body.len == 0)
        return ps_error_push(L, t, "invalid_response", status, 0,
                             "expected a JSON body, got an empty response");
    if (!decode_body(L, t))
        return ps_error_push(L, t, "invalid_response", status, 0,
                             "response body is not valid JSON: %s", lua_tostring(L, -1));
    if (is_json_null(L, -1) && op->result != PS_RESULT_NULLABLE)
        return ps_error_push(L, t, "invalid_response", status, 0,
                             "expected a JSON %s, got null", op->item);
    if (!is_json_null(L, -1) && !lua_istable(L, -1))
        return ps_error_push(L, t, "invalid_response", status, 0,
                             "expected a JSON object or array, got a %s", luaL_typename(L, -1));
    if (!op->paged && lua_istable(L, -1)) {
        /* One session, member or secret: lua-cjson gives an array integer
         * keys from 1. */
        int is_array;
        lua_rawgeti(L, -1, 1);
        is_array = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (is_array)
            return ps_error_push(L, t, "invalid_response", status, 0,
                                 "expected a JSON object (a %s), got an array", op->item);
    }
    return 1;
}

static int push_failure(lua_State *L, ps_transfer *t, long status) {
    const char *kind = ps_error_kind_for_status(status);
    int body = 0;
    if (t->body.len > 0) {
        if (decode_body(L, t))
            body = lua_gettop(L);
        else
            lua_pop(L, 1);
    }
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
        size_t len;
        const char *loc = ps_header_find(&t->head, "location", &len);
        if (loc != NULL)
            lua_pushlstring(L, loc, len);
        else
            lua_pushliteral(L, "an unnamed location");
        return ps_error_push(L, t, kind, status, body,
                             "unexpected redirect to %s (redirects are not followed)",
                             lua_tostring(L, -1));
    }
    return ps_error_push(L, t, kind, status, body, NULL);
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
           strncasecmp(t->req.url.data, "https:", 6) == 0 && strstr(t->errbuf, "SSL connection timeout") != NULL;
}

/* Pushes the result of the attempt that ended with `rc`: the decoded value
 * (JSON null as lua-cjson's null, `true` for an operation without a
 * result), or `nil, err`. */
int ps_response_push(lua_State *L, ps_transfer *t, CURLcode rc) {
    long status;
    int n;
    t->rc = rc;
    if (t->overflow) {
        char limit[32];
        snprintf(limit, sizeof limit, "%lld", (long long)t->client->max_response_bytes);
        n = ps_error_push(L, t, "invalid_response", ps_response_status(t), 0,
                          "response body exceeds max_response_bytes (%s bytes)", limit);
    }
    else if (handshake_stalled(t, rc))
        n = ps_error_push(L, t, "tls", 0, 0, "no TLS handshake from the server (%s) (" PLAIN_HTTP_HINT ")",
                          t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
    else if (rc == CURLE_SSL_CONNECT_ERROR && strstr(t->errbuf, "wrong version number") != NULL)
        n = ps_error_push(L, t, "tls", 0, 0, "%s (" PLAIN_HTTP_HINT ")", t->errbuf);
    else if (t->conflict)
        n = ps_error_push(L, t, "invalid_response", ps_response_status(t), 0,
                          "the response has two different Content-Length headers");
    else if (rc != CURLE_OK)
        n = ps_error_push(L, t, ps_error_kind_for_curl(rc, t->errbuf), 0, 0, "%s",
                          t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
    else if ((status = ps_response_status(t)) >= 200 && status < 300)
        n = push_success(L, t, status);
    else
        n = push_failure(L, t, status);
    ps_transfer_release(t);
    return n;
}

/* URLs and paths longer than this are shown cut, with their length: one
 * built from a huge cursor must not fill a log or a terminal. */
#define MAX_URL_SHOWN 2048

/* Pushes the URL or path at `s`, cut to MAX_URL_SHOWN bytes. */
void ps_url_push(lua_State *L, const char *s, size_t len) {
    if (len <= MAX_URL_SHOWN) {
        lua_pushlstring(L, s, len);
        return;
    }
    lua_pushlstring(L, s, MAX_URL_SHOWN);
    lua_pushfstring(L, "... (%d bytes)", len > (size_t)0x7fffffff ? 0x7fffffff : (int)len);
    lua_concat(L, 2);
}

/* Pushes the record of the attempt t just made, for this call alone, as
 * an array (cheap to make for every call; the Lua layer names its fields):
 * {status, elapsed, method, url, path, head}, where `head` is the
 * response's raw header block (trailers left out), scrubbed, and status and
 * head are nil when no response came. */
void ps_record_push(lua_State *L, ps_transfer *t) {
    long status = ps_response_status(t);
    curl_off_t us = 0;
    lua_createtable(L, 6, 0);
    if (status > 0) {
        lua_pushinteger(L, (lua_Integer)status);
        lua_rawseti(L, -2, 1);
        lua_pushlstring(L, t->head.data ? t->head.data : "", t->head.len);
        ps_scrub_top(L, t);
        lua_rawseti(L, -2, 6);
    }
    if (curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &us) != CURLE_OK)
        us = 0;
    lua_pushnumber(L, (lua_Number)us / 1e6);
    lua_rawseti(L, -2, 2);
    lua_pushstring(L, t->req.op->method);
    lua_rawseti(L, -2, 3);
    ps_url_push(L, t->req.url.data, t->req.url.len);
    lua_rawseti(L, -2, 4);
    ps_url_push(L, t->req.url.data + t->req.path_at, t->req.url.len - t->req.path_at);
    lua_rawseti(L, -2, 5);
}

/* core.set_metatables(list, mt) -> nil | i: gives `mt` to every item of the
 * array `list`, in order, while each is a JSON object (a table without an
 * item [1]: lua-cjson decodes an empty object and an empty array alike);
 * returns the index of the first item that is not one, having stopped there.
 * team.wrap makes a decoded list's items objects with it: one loop in C, not
 * a call from Lua per item (a list may hold 10,000 members). */
int ps_set_metatables(lua_State *L) {
    lua_Integer i;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    for (i = 1;; i++) {
        int object;
        lua_rawgeti(L, 1, i);
        if (lua_isnil(L, -1))
            return 0;
        object = lua_istable(L, -1);
        if (object) {
            lua_rawgeti(L, -1, 1);
            object = lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        if (!object) {
            lua_pushinteger(L, i);
            return 1;
        }
        lua_pushvalue(L, 2);
        lua_setmetatable(L, -2);
        lua_pop(L, 1);
    }
}
