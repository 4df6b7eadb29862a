/*
 * errors.c: the error object. Every runtime failure of a call reaches Lua
 * through ps_error_push, as `nil, err`, made from the call's parsed
 * response (response.c), with the same fields whatever went wrong; the Lua
 * layer gives the metatable its methods. Programmer errors are raise.c's.
 */
#include <stdarg.h>
#include <string.h>

#include "paperspace.h"

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
static void set_default_message(lua_State *L, const ps_response *r) {
    lua_getfield(L, -1, "message");
    if (!lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (r->body == 0 && r->content_type != NULL) {
        lua_pushlstring(L, r->content_type, r->content_type_len);
        ps_scrub_top(L, r->t);
        lua_pushfstring(L, "HTTP %d (%s body)", (int)r->status, lua_tostring(L, -1));
        lua_remove(L, -2);
    } else {
        lua_pushfstring(L, "HTTP %d", (int)r->status);
    }
    lua_setfield(L, -2, "message");
}

/* What retrying needs to know of an attempt that got no response: whether
 * any byte of the request left (if none did, even a POST is safe to send
 * again), and libcurl's own code. Plus the attempt's duration. */
static void set_wire_info(lua_State *L, const ps_response *r) {
    ps_transfer *t = r->t;
    long sent = 0;
    lua_pushnumber(L, r->elapsed);
    lua_setfield(L, -2, "elapsed");
    if (t->rc == CURLE_OK)
        return;
    lua_pushinteger(L, (lua_Integer)t->rc);
    lua_setfield(L, -2, "curl_code");
    if (curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK)
        sent = 1; /* unknown: assume the worst */
    lua_pushboolean(L, sent > 0);
    lua_setfield(L, -2, "request_sent");
}

/* Pushes `nil, err` for response r (see ps_response: with r->status 0,
 * no response is reported) and returns 2. `fmt`, when not NULL, gives the
 * message, otherwise it comes from the body. */
int ps_error_push(lua_State *L, const ps_response *r, const char *kind, const char *fmt, ...) {
    ps_transfer *t = r->t;

    luaL_checkstack(L, 8, NULL);
    lua_pushnil(L);
    lua_createtable(L, 0, 12);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, t->req.op->method);
    lua_setfield(L, -2, "method");
    ps_request_push_url(L, &t->req);
    lua_setfield(L, -2, "url");
    ps_request_push_path(L, &t->req);
    lua_setfield(L, -2, "path");
    set_wire_info(L, r);
    if (r->status > 0) {
        lua_pushinteger(L, (lua_Integer)r->status);
        lua_setfield(L, -2, "status");
        set_string(L, t, "request_id", r->request_id, r->request_id_len);
        ps_headers_push(L, &t->head);
        ps_scrub(L, t);
        lua_setfield(L, -2, "headers");
    }
    if (r->body != 0) { /* any JSON value: an object, or a string, a number, null */
        lua_pushvalue(L, r->body);
        ps_scrub(L, t);
        lua_setfield(L, -2, "body");
        set_from_body(L, t, r->body); /* scrubs what it takes */
    }
    if (fmt != NULL) { /* ours, over the body's */
        va_list ap;
        va_start(ap, fmt);
        lua_pushvfstring(L, fmt, ap);
        va_end(ap);
        ps_scrub_top(L, t);
        lua_setfield(L, -2, "message");
    }
    if (r->status > 0)
        set_default_message(L, r);
    if (r->status == 401 && t->client->api_key == NULL) {
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
