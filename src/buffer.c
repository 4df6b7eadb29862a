/*
 * buffer.c: the growable byte buffers behind URLs, bodies and headers.
 * They live in the transfer, so a Lua error raised halfway through building
 * a request cannot leak them, and their memory is reused by the next call.
 * Percent-encoding lives here too: the request encodes ids and names with
 * it, and the scrubber the forms of a secret that a server may echo.
 */
#include <stdlib.h>
#include <string.h>

#include "paperspace.h"

/* Makes room for `extra` more bytes plus a terminating NUL; 0 when out of memory. */
int ps_buf_reserve(ps_buf *b, size_t extra) {
    size_t need, cap;
    char *p;
    if (extra > (size_t)-1 - b->len - 1)
        return 0;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 1;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        return 0;
    b->data = p;
    b->cap = cap;
    return 1;
}

int ps_buf_append(ps_buf *b, const void *p, size_t n) {
    if (!ps_buf_reserve(b, n))
        return 0;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 1;
}

int ps_buf_addstr(ps_buf *b, const char *s) {
    return ps_buf_append(b, s, strlen(s));
}

/* Empties the buffer and overwrites what it held: request bodies carry
 * secret values, which must not linger in freed or reused memory. */
void ps_buf_wipe(ps_buf *b) {
    if (b->data != NULL) {
        volatile char *p = b->data;
        size_t i;
        for (i = 0; i < b->len; i++)
            p[i] = 0;
    }
    b->len = 0;
}

/* Empties the buffer, giving its memory back when it grew past `keep`, so
 * one huge response does not stay resident for the life of the client. */
void ps_buf_trim(ps_buf *b, size_t keep) {
    b->len = 0;
    if (b->cap > keep) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

void ps_buf_free(ps_buf *b) {
    ps_buf_wipe(b);
    free(b->data);
    b->data = NULL;
    b->cap = 0;
}

static int is_unreserved(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* Appends `s` percent-encoded so that it is exactly one path segment or one
 * query value: everything but RFC 3986's unreserved characters is escaped,
 * "/", "?", "#" and "%" included. Returns the bytes appended. */
size_t ps_escape_segment(ps_buf *b, const char *s, size_t len, int *oom) {
    static const char hex[] = "0123456789ABCDEF";
    size_t i, start = b->len;
    if (!ps_buf_reserve(b, len * 3)) {
        *oom = 1;
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (is_unreserved(ch)) {
            b->data[b->len++] = (char)ch;
        } else {
            b->data[b->len++] = '%';
            b->data[b->len++] = hex[ch >> 4];
            b->data[b->len++] = hex[ch & 15];
        }
    }
    b->data[b->len] = '\0';
    return b->len - start;
}
