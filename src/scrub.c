/*
 * scrub.c: removes the API key and a call's secret values from whatever a
 * server sent back before it reaches the user (messages, bodies, headers,
 * records). A server may echo a value in any form the library sent it in:
 * as given, as the JSON encoder wrote it ("/" as "\/"), or percent-encoded;
 * every one of those forms is scrubbed. Each form costs one linear search
 * of the text (memmem), whatever the value's shape.
 */
#define _GNU_SOURCE /* memmem */
#include <string.h>

#include "paperspace.h"

#define REDACTED "[REDACTED]"
/* Scrubbing every "ab" from a message would make it unreadable and hide
 * nothing worth hiding; shorter secrets are left alone. */
#define MIN_SCRUB 4
/* A table nested deeper than this is replaced whole by REDACTED rather than
 * walked: no error body of the API comes near it. */
#define MAX_SCRUB_DEPTH 32

/* Adds `len` bytes at `p` as a form, unless too short, already there, or
 * there is no room left (every caller adds at most PS_MAX_FORMS). */
static int add_form(ps_secrets *s, const char *p, size_t len) {
    int i;
    if (len < MIN_SCRUB || s->n >= PS_MAX_FORMS)
        return 1;
    for (i = 0; i < s->n; i++)
        if (s->len[i] == len && memcmp(s->text.data + s->at[i], p, len) == 0)
            return 1;
    s->at[s->n] = s->text.len;
    if (!ps_buf_append(&s->text, p, len))
        return 0;
    s->len[s->n++] = len;
    return 1;
}

/* Adds the forms of secret `v`: as given, JSON-escaped by the encoder at
 * stack index `encode` (0: none), percent-encoded. 0 when out of memory. */
int ps_secrets_add(lua_State *L, ps_secrets *s, int encode, const char *v, size_t len) {
    int oom = 0, ok;
    size_t start;
    if (len < MIN_SCRUB)
        return 1;
    if (!add_form(s, v, len))
        return 0;
    if (encode != 0) {
        size_t elen;
        const char *e;
        lua_pushvalue(L, encode);
        lua_pushlstring(L, v, len);
        lua_call(L, 1, 1);
        e = lua_tolstring(L, -1, &elen);
        /* "..." around the escaped text */
        ok = e == NULL || elen < 2 || add_form(s, e + 1, elen - 2);
        lua_pop(L, 1);
        if (!ok)
            return 0;
    }
    /* Escaped at the end of the text, then moved into a form of its own. */
    start = s->text.len;
    ps_escape_segment(&s->text, v, len, &oom);
    if (oom)
        return 0;
    {
        size_t elen = s->text.len - start;
        int i, dup = elen < MIN_SCRUB || s->n >= PS_MAX_FORMS;
        for (i = 0; !dup && i < s->n; i++)
            dup = s->len[i] == elen && memcmp(s->text.data + s->at[i], s->text.data + start,
                                              elen) == 0;
        if (dup) {
            memset(s->text.data + start, 0, elen);
            s->text.len = start;
        } else {
            s->at[s->n] = start;
            s->len[s->n++] = elen;
        }
    }
    return 1;
}

void ps_secrets_wipe(ps_secrets *s) {
    ps_buf_wipe(&s->text);
    s->n = 0;
}

void ps_secrets_free(ps_secrets *s) {
    ps_buf_free(&s->text);
    s->n = 0;
}

/* Replaces the string at the top of the stack by a copy in which every
 * occurrence of `needle` reads REDACTED: one pass, linear in the text. */
static void redact_top(lua_State *L, const char *needle, size_t len) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n), *end = s + n, *hit;
    luaL_Buffer b;
    if (n < len || (hit = memmem(s, n, needle, len)) == NULL)
        return;
    luaL_buffinit(L, &b);
    do {
        luaL_addlstring(&b, s, (size_t)(hit - s));
        luaL_addstring(&b, REDACTED);
        s = hit + len;
    } while ((size_t)(end - s) >= len && (hit = memmem(s, (size_t)(end - s), needle, len)) != NULL);
    luaL_addlstring(&b, s, (size_t)(end - s));
    luaL_pushresult(&b);
    lua_remove(L, -2);
}

static void redact_set(lua_State *L, const ps_secrets *s) {
    int i;
    for (i = 0; i < s->n; i++)
        redact_top(L, s->text.data + s->at[i], s->len[i]);
}

/* Replaces, in the string at the top of the stack, every form of the API
 * key and of the call's secret values. */
void ps_scrub_top(lua_State *L, ps_transfer *t) {
    redact_set(L, &t->client->key_forms);
    redact_set(L, &t->req.secrets);
}

/* Pushes a copy of the value at `idx` in which every string, table keys
 * included, is scrubbed. */
static void push_scrubbed(lua_State *L, ps_transfer *t, int idx, int depth) {
    int copy;
    luaL_checkstack(L, 6, NULL);
    if (lua_type(L, idx) == LUA_TSTRING) {
        lua_pushvalue(L, idx);
        ps_scrub_top(L, t);
        return;
    }
    if (!lua_istable(L, idx)) {
        lua_pushvalue(L, idx);
        return;
    }
    if (depth >= MAX_SCRUB_DEPTH) {
        lua_pushliteral(L, REDACTED);
        return;
    }
    lua_newtable(L);
    copy = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        push_scrubbed(L, t, lua_gettop(L) - 1, depth + 1); /* the key */
        push_scrubbed(L, t, lua_gettop(L) - 1, depth + 1); /* the value */
        lua_rawset(L, copy);
        lua_pop(L, 1);
    }
}

/* Replaces the value at the top of the stack (a string, a table, or any
 * other value, left as it is) by its scrubbed copy. */
void ps_scrub(lua_State *L, ps_transfer *t) {
    push_scrubbed(L, t, lua_gettop(L), 0);
    lua_remove(L, -2);
}
