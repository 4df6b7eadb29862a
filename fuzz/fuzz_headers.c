/*
 * fuzz_headers.c: libFuzzer target for the header-block parsing of
 * src/headers.c, which reads bytes exactly as the server sent them, and for
 * the scrubbing (src/scrub.c) of the table it makes.
 *
 * The input is one raw header block (status line, "name: value" lines,
 * anything else). It is held the way the core holds it, in a ps_buf whose
 * data[len] is NUL, allocated with no spare byte after that NUL, so that
 * any read past the block is caught by AddressSanitizer. Then:
 *
 *   ps_header_find  for the headers the library reads and for the first
 *                   name of the block: the value lies inside the block,
 *                   has no surrounding blanks and no line break;
 *   ps_headers_push on one lua_State for the whole process: the stack
 *                   grows by exactly the table; every key is a lower-case
 *                   name under 64 bytes with no colon or line break; the
 *                   value of a found name begins with what ps_header_find
 *                   returned;
 *   ps_scrub        over that table, as errors do: no key or value still
 *                   holds the API key or the call's secret, NULs or not.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paperspace.h"

#define API_KEY "sk-live-0123456789abcdef0123456789"
#define SECRET "hunter2-plus-enough-to-scrub"

static lua_State *L;
static ps_client client;
static ps_transfer transfer;

static void fail(const char *what) {
    fprintf(stderr, "fuzz_headers: %s\n", what);
    abort();
}

static void check(int ok, const char *what) {
    if (!ok)
        fail(what);
}

static void setup(void) {
    static char key[] = API_KEY;
    L = luaL_newstate();
    if (L == NULL)
        fail("luaL_newstate failed");
    client.api_key = key;
    client.key_len = sizeof key - 1;
    transfer.client = &client;
    if (!ps_secrets_add(L, &client.key_forms, 0, key, sizeof key - 1) ||
        !ps_secrets_add(L, &transfer.req.secrets, 0, SECRET, sizeof SECRET - 1))
        fail("ps_secrets_add failed");
}

static int is_blank(char c) {
    return c == ' ' || c == '\t';
}

/* ps_header_find for `name`: checks the value and, when the name is one
 * ps_headers_push keeps, that the table at the top of the stack agrees. */
static void find_and_compare(const ps_buf *head, const char *name) {
    size_t vlen = 12345, nlen = strlen(name);
    const char *v = ps_header_find(head, name, &vlen);
    if (v == NULL) {
        check(vlen == 0, "ps_header_find: length not 0 for a missing header");
        return;
    }
    check(v >= head->data && v + vlen <= head->data + head->len,
          "ps_header_find: value outside the header block");
    check(memchr(v, '\n', vlen) == NULL, "ps_header_find: value spans a line break");
    if (vlen > 0) {
        check(!is_blank(v[0]), "ps_header_find: value starts with a blank");
        check(!is_blank(v[vlen - 1]) && v[vlen - 1] != '\r',
              "ps_header_find: value ends with a blank or CR");
    }
    if (nlen > 0 && nlen < 64) {
        char lower[64];
        size_t i, tlen;
        const char *tv;
        for (i = 0; i < nlen; i++)
            lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
        lua_pushlstring(L, lower, nlen);
        lua_rawget(L, -2);
        check(lua_type(L, -1) == LUA_TSTRING, "ps_headers_push: a found header is missing");
        tv = lua_tolstring(L, -1, &tlen);
        check(tlen >= vlen && memcmp(tv, v, vlen) == 0,
              "ps_headers_push: value does not begin with the first occurrence");
        lua_pop(L, 1);
    }
}

static void check_table(int idx) {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t klen, vlen, i;
        const char *k, *v;
        check(lua_type(L, -2) == LUA_TSTRING, "ps_headers_push: a key is not a string");
        check(lua_type(L, -1) == LUA_TSTRING, "ps_headers_push: a value is not a string");
        k = lua_tolstring(L, -2, &klen);
        v = lua_tolstring(L, -1, &vlen);
        check(klen > 0 && klen < 64, "ps_headers_push: key empty or 64 bytes or longer");
        for (i = 0; i < klen; i++)
            check(!(k[i] >= 'A' && k[i] <= 'Z') && k[i] != ':' && k[i] != '\n',
                  "ps_headers_push: key has upper case, a colon or a line break");
        check(memchr(v, '\n', vlen) == NULL, "ps_headers_push: value spans a line break");
        lua_pop(L, 1);
    }
}

/* Whether `needle` occurs in the `len` bytes at `hay`, NULs included. */
static int contains(const char *hay, size_t len, const char *needle) {
    size_t n = strlen(needle), i;
    for (i = 0; n <= len && i <= len - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

/* After ps_scrub, no name or value of the headers table holds a secret. */
static void check_scrubbed(int idx) {
    static const char *const secrets[] = {API_KEY, SECRET};
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t klen, vlen, i;
        const char *k = lua_tolstring(L, -2, &klen); /* a string key: no conversion */
        const char *v = lua_tolstring(L, -1, &vlen);
        for (i = 0; i < 2; i++)
            check(!contains(k, klen, secrets[i]) && !contains(v, vlen, secrets[i]),
                  "ps_scrub: a secret survived");
        lua_pop(L, 1);
    }
}

/* The first "name:" of the block, when it is a C string, as a name to find. */
static char *first_name(const uint8_t *data, size_t size) {
    const uint8_t *colon = memchr(data, ':', size), *p;
    char *name;
    if (colon == NULL)
        return NULL;
    p = colon;
    while (p > data && p[-1] != '\n')
        p--;
    if (p == colon || memchr(p, '\0', (size_t)(colon - p)) != NULL)
        return NULL;
    name = malloc((size_t)(colon - p) + 1);
    if (name == NULL)
        fail("out of memory");
    memcpy(name, p, (size_t)(colon - p));
    name[colon - p] = '\0';
    return name;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[] = {"x-request-id", "location", "content-type",
                                        "retry-after", "X-Request-ID", "HTTP/1.1 200 OK"};
    ps_buf head, empty = {NULL, 0, 0};
    size_t i, dummy;
    int top;
    char *name;

    if (L == NULL)
        setup();

    head.data = malloc(size + 1);
    if (head.data == NULL)
        fail("out of memory");
    memcpy(head.data, data, size);
    head.data[size] = '\0';
    head.len = size;
    head.cap = size + 1;

    top = lua_gettop(L);
    ps_headers_push(L, &head);
    check(lua_gettop(L) == top + 1 && lua_istable(L, -1),
          "ps_headers_push: stack not one table higher");
    check_table(lua_gettop(L));

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        find_and_compare(&head, names[i]);
    name = first_name(data, size);
    if (name != NULL) {
        find_and_compare(&head, name);
        free(name);
    }
    check(lua_gettop(L) == top + 1, "stack unbalanced by the lookups");

    ps_scrub(L, &transfer);
    check(lua_gettop(L) == top + 1, "ps_scrub: stack unbalanced");
    check_scrubbed(lua_gettop(L));

    lua_settop(L, top);
    free(head.data);

    /* An empty, never allocated buffer, as before the first response. */
    check(ps_header_find(&empty, "location", &dummy) == NULL, "found a header in no block");
    return 0;
}
