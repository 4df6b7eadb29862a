/*
 * headers.c: reads a response's header block as the server sent it (the
 * status line, then "name: value" lines): finds one header, or pushes them
 * all as a Lua table. Lines without a colon, and status lines, are skipped;
 * nothing here trusts the block to be well formed.
 */
#include <string.h>
#include <strings.h>

#include "paperspace.h"

static const char *skip_space(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static int is_status_line(const char *p, const char *line_end) {
    return line_end - p >= 5 && memcmp(p, "HTTP/", 5) == 0;
}

/* Called for every "name: value" of a block; a non-zero return stops the walk. */
typedef int (*header_fn)(void *ud, const char *name, size_t nlen, const char *value,
                         size_t vlen);

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

/* The value of the first header `name` (case-insensitive) in the block, not
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

/* Pushes the block's headers as a table with lower-case names. */
void ps_headers_push(lua_State *L, const ps_buf *head) {
    lua_newtable(L);
    each_header(head, set_header, L);
}
