/*
 * fuzz_scrub.c: libFuzzer target for the scrubber (src/scrub.c), which
 * removes the API key and a call's secret values from what a server sent.
 *
 * The input is split at its first byte: that many following bytes (mod the
 * rest) are the secret, what remains is the text a server sent. The secret's
 * forms (as given, as lua-cjson encodes it, percent-encoded) are computed by
 * ps_secrets_add and the text is sent back with each form spliced into its
 * middle, as an echoing server would. After ps_scrub_top:
 *   - the stack holds one string, as before;
 *   - no form of four bytes or more survives, unless a form shares a byte
 *     with the "[REDACTED]" marker (the marker next to the text's own bytes
 *     can then spell a form without any byte of the secret surviving);
 *   - text holding no form comes back unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paperspace.h"
#include <lualib.h>

static lua_State *L;
static int encode; /* stack index of lua-cjson's encode, or 0 */
static ps_client client;
static ps_transfer transfer;

static void fail(const char *what) {
    fprintf(stderr, "fuzz_scrub: %s\n", what);
    abort();
}

static void check(int ok, const char *what) {
    if (!ok)
        fail(what);
}

static void setup(void) {
    L = luaL_newstate();
    if (L == NULL)
        fail("luaL_newstate failed");
    luaL_openlibs(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    if (lua_pcall(L, 1, 1, 0) == 0) {
        lua_getfield(L, -1, "encode");
        lua_remove(L, -2);
        encode = lua_gettop(L);
    } else {
        lua_pop(L, 1); /* no lua-cjson here: the JSON form is left out */
    }
    transfer.client = &client;
}

static int contains(const char *hay, size_t len, const char *needle, size_t n) {
    size_t i;
    for (i = 0; n <= len && i <= len - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

static int shares_marker_byte(const char *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] != '\0' && strchr("[REDACT]", s[i]) != NULL)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const ps_secrets *s = &transfer.req.secrets;
    const char *text, *secret, *out;
    size_t klen, tlen, olen, half;
    ps_buf hay = {NULL, 0, 0};
    int i, top, any_form = 0;

    if (L == NULL)
        setup();
    if (size < 1)
        return 0;
    klen = size > 1 ? data[0] % size : 0;
    secret = (const char *)data + 1;
    text = secret + klen;
    tlen = size - 1 - klen;

    top = lua_gettop(L);
    check(ps_secrets_add(L, &transfer.req.secrets, encode, secret, klen), "ps_secrets_add failed");
    check(lua_gettop(L) == top, "ps_secrets_add: stack unbalanced");
    check(s->n <= PS_MAX_FORMS, "too many forms");

    half = tlen / 2;
    if (!ps_buf_append(&hay, text, half))
        fail("out of memory");
    for (i = 0; i < s->n; i++)
        if (!ps_buf_append(&hay, s->text.data + s->at[i], s->len[i]))
            fail("out of memory");
    if (!ps_buf_append(&hay, text + half, tlen - half))
        fail("out of memory");

    lua_pushlstring(L, hay.data ? hay.data : "", hay.len);
    ps_scrub_top(L, &transfer);
    check(lua_gettop(L) == top + 1 && lua_type(L, -1) == LUA_TSTRING, "ps_scrub_top: not one string");
    out = lua_tolstring(L, -1, &olen);
    for (i = 0; i < s->n; i++) {
        const char *f = s->text.data + s->at[i];
        check(s->len[i] >= 4, "a form under 4 bytes");
        if (!shares_marker_byte(f, s->len[i]))
            check(!contains(out, olen, f, s->len[i]), "a form survived");
    }
    lua_pop(L, 1);

    /* The text alone: unchanged when it holds no form. */
    for (i = 0; i < s->n; i++)
        any_form |= contains(text, tlen, s->text.data + s->at[i], s->len[i]);
    lua_pushlstring(L, text, tlen);
    ps_scrub_top(L, &transfer);
    out = lua_tolstring(L, -1, &olen);
    if (!any_form)
        check(olen == tlen && memcmp(out, text, tlen) == 0, "text with no form was changed");
    lua_settop(L, top);

    ps_buf_free(&hay);
    ps_secrets_wipe(&transfer.req.secrets);
    return 0;
}
