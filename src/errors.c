/*
 * errors.c: the error object. Every runtime failure of a call reaches Lua
 * through ps_error_push, as `nil, err`, with the same fields whatever went
 * wrong; the Lua layer gives the metatable its methods.
 */
#include <stdarg.h>
#include <string.h>

#include "paperspace.h"

/* The library's own Lua files: a wrong argument is reported at the first
 * caller outside them, where the mistake is. */
static int is_library_frame(const lua_Debug *ar) {
    static const char *const files[] = {"init.lua", "client.lua", "team.lua", "member.lua",
                                         "secret.lua", "pager.lua", "config.lua", "errors.lua",
                                         "hosts/ngx.lua", "retry.lua", "tasks.lua",
                                         NULL};
    size_t len = strlen(ar->source), i;
    if (ar->currentline < 0)
        return 1; /* a C function */
    for (i = 0; files[i] != NULL; i++) {
        size_t n = strlen(files[i]) + strlen("paperspace/");
        if (len >= n && strncmp(ar->source + len - n, "paperspace/", 11) == 0 &&
            strcmp(ar->source + len - n + 11, files[i]) == 0)
            return 1;
    }
    return 0;
}

/* Raises "where: message" for a programmer error such as a wrong argument. */
int ps_raise(lua_State *L, const char *fmt, ...) {
    lua_Debug ar;
    int level, found = 0;
    va_list ap;
    for (level = 1; !found && lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && !is_library_frame(&ar)) {
            lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
            found = 1;
        }
    }
    if (!found)
        lua_pushliteral(L, "");
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

const char *ps_error_kind_for_status(long status) {
    switch (status) {
    case 400: return "bad_request";
    case 401: return "authentication";
    case 403: return "permission_denied";
    case 404: return "not_found";
    case 409: return "conflict";
    case 422: return "unprocessable";
    case 429: return "rate_limited";
    default: return status >= 500 && status < 600 ? "server_error" : "http";
    }
}

/* What kind of failure libcurl's `rc` is. A reply that breaks HTTP's
 * framing (a header line without a colon, a bad or conflicting
 * Content-Length, a bad chunk size, a bad status line, an encoding that does
 * not decode) is the server's fault, not the network's: invalid_response. */
const char *ps_error_kind_for_curl(CURLcode rc, const char *errbuf) {
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_UNSUPPORTED_PROTOCOL: /* an HTTP/0.9 reply: no status line */
        return "invalid_response";
    case CURLE_RECV_ERROR:
        /* libcurl reports a chunked body it cannot read as a receive error */
        return errbuf != NULL && strstr(errbuf, "hunk") != NULL ? "invalid_response"
                                                                : "connection";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED: return "tls";
    default: return "connection";
    }
}

static void set_string(lua_State *L, ps_transfer *t, const char *key, const char *s, size_t len) {
    if (s == NULL)
        return;
    lua_pushlstring(L, s, len);
    ps_scrub_top(L, t);
    lua_setfield(L, -2, key);
}

/* Takes the API's own code and message from an error body {code, message}. */
static void set_from_body(lua_State *L, ps_transfer *t, int body) {
    static const char *const fields[] = {"code", "message"};
    size_t i;
    if (!lua_istable(L, body))
        return;
    for (i = 0; i < 2; i++) {
        size_t len = 0;
        const char *s = NULL;
        lua_getfield(L, body, fields[i]);
        if (lua_type(L, -1) == LUA_TSTRING)
            s = lua_tolstring(L, -1, &len); /* the body table keeps it alive */
        lua_pop(L, 1);
        set_string(L, t, fields[i], s, len);
    }
}

/* "HTTP 502", and the body's type when it was not JSON (an HTML page from a
 * proxy, say), for an error body that gave no message of its own. */
static void set_default_message(lua_State *L, ps_transfer *t, long status, int body) {
    size_t len;
    const char *type = body == 0 ? ps_header_find(&t->head, "content-type", &len) : NULL;
    lua_getfield(L, -1, "message");
    if (!lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (type != NULL) {
        lua_pushlstring(L, type, len);
        ps_scrub_top(L, t);
        lua_pushfstring(L, "HTTP %d (%s body)", (int)status, lua_tostring(L, -1));
        lua_remove(L, -2);
    } else {
        lua_pushfstring(L, "HTTP %d", (int)status);
    }
    lua_setfield(L, -2, "message");
}

/* What retrying needs to know of an attempt that got no response: whether
 * any byte of the request left (if none did, even a POST is safe to send
 * again), and libcurl's own code. Plus the attempt's duration. */
static void set_wire_info(lua_State *L, ps_transfer *t) {
    curl_off_t us = 0;
    long sent = 0;
    if (curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK) {
        lua_pushnumber(L, (lua_Number)us / 1e6);
        lua_setfield(L, -2, "elapsed");
    }
    if (t->rc == CURLE_OK)
        return;
    lua_pushinteger(L, (lua_Integer)t->rc);
    lua_setfield(L, -2, "curl_code");
    if (curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK)
        sent = 1; /* unknown: assume the worst */
    lua_pushboolean(L, sent > 0);
    lua_setfield(L, -2, "request_sent");
}

/* Pushes `nil, err` and returns 2. `status` is 0 when no response came;
 * `body` is the stack index of the decoded error body, or 0; `fmt`, when
 * not NULL, gives the message, otherwise it comes from the body. */
int ps_error_push(lua_State *L, ps_transfer *t, const char *kind, long status, int body,
                  const char *fmt, ...) {
    ps_client *c = t->client;
    const char *method = t->req.op->method;
    size_t len;
    const char *request_id = ps_header_find(&t->head, "x-request-id", &len);

    luaL_checkstack(L, 8, NULL);
    lua_pushnil(L);
    ps_newtable(L, 0, 12);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, method);
    lua_setfield(L, -2, "method");
    ps_url_push(L, t->req.url.data, t->req.url.len);
    lua_setfield(L, -2, "url");
    ps_url_push(L, t->req.url.data + t->req.path_at, t->req.url.len - t->req.path_at);
    lua_setfield(L, -2, "path");
    set_wire_info(L, t);
    if (status > 0) {
        lua_pushinteger(L, (lua_Integer)status);
        lua_setfield(L, -2, "status");
        set_string(L, t, "request_id", request_id, len);
        ps_headers_push(L, &t->head);
        ps_scrub(L, t);
        lua_setfield(L, -2, "headers");
    }
    if (body != 0) { /* any JSON value: an object, or a string, a number, null */
        lua_pushvalue(L, body);
        ps_scrub(L, t);
        lua_setfield(L, -2, "body");
        set_from_body(L, t, body); /* scrubs what it takes */
    }
    if (fmt != NULL) { /* ours, over the body's */
        va_list ap;
        va_start(ap, fmt);
        lua_pushvfstring(L, fmt, ap);
        va_end(ap);
        ps_scrub_top(L, t);
        lua_setfield(L, -2, "message");
    }
    if (status > 0)
        set_default_message(L, t, status, body);
    if (status == 401 && c->api_key == NULL) {
        lua_getfield(L, -1, "message");
        lua_pushliteral(L, " (no API key configured: set PAPERSPACE_API_KEY or pass api_key "
                           "to paperspace.new)");
        lua_concat(L, 2);
        lua_setfield(L, -2, "message");
    }
    luaL_getmetatable(L, PS_ERROR_MT);
    lua_setmetatable(L, -2);
    return 2;
}
