/*
 * fuzz_escape.c: libFuzzer target for ps_escape_segment (src/buffer.c),
 * which percent-encodes path segments and query values into the URL.
 *
 * The input is one segment, any bytes. It is appended twice to a buffer
 * that already holds the start of a URL, as the core does, and each copy
 * must be:
 *   - made only of RFC 3986 unreserved characters and "%XX" escapes with
 *     upper-case hex digits;
 *   - canonical: an escape never stands for an unreserved character;
 *   - the input again once decoded, with the returned length right and the
 *     buffer NUL-terminated after it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paperspace.h"

#define PREFIX "https://api.paperspace.test/v1/teams/"

static void fail(const char *what) {
    fprintf(stderr, "fuzz_escape: %s\n", what);
    abort();
}

static void check(int ok, const char *what) {
    if (!ok)
        fail(what);
}

static int is_unreserved(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* lower-case hex is refused too */
}

/* Decodes out[0..n) and checks it against the input. */
static void check_segment(const char *out, size_t n, const uint8_t *data, size_t size) {
    size_t i = 0, j = 0;
    while (i < n) {
        unsigned char c = (unsigned char)out[i];
        if (c == '%') {
            int hi, lo;
            check(i + 3 <= n, "truncated escape");
            hi = hex_value((unsigned char)out[i + 1]);
            lo = hex_value((unsigned char)out[i + 2]);
            check(hi >= 0 && lo >= 0, "escape without two upper-case hex digits");
            c = (unsigned char)(hi * 16 + lo);
            check(!is_unreserved(c), "an unreserved character was escaped");
            i += 3;
        } else {
            check(is_unreserved(c), "a reserved or non-ASCII byte was not escaped");
            i++;
        }
        check(j < size, "output decodes to more bytes than the input");
        check(c == data[j], "output does not decode to the input");
        j++;
    }
    check(j == size, "output decodes to fewer bytes than the input");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ps_buf b = {NULL, 0, 0};
    size_t n1, n2, start;
    int oom = 0;

    if (!ps_buf_addstr(&b, PREFIX))
        fail("out of memory");
    start = b.len;
    n1 = ps_escape_segment(&b, (const char *)data, size, &oom);
    check(!oom, "out of memory");
    check(b.len == start + n1, "returned length differs from the bytes appended");
    check(b.data[b.len] == '\0', "not NUL-terminated");
    check(memcmp(b.data, PREFIX, start) == 0, "the URL before the segment changed");
    check_segment(b.data + start, n1, data, size);

    /* Again, onto the first copy: the buffer grows with data in it. */
    if (!ps_buf_addstr(&b, "/"))
        fail("out of memory");
    n2 = ps_escape_segment(&b, (const char *)data, size, &oom);
    check(!oom, "out of memory");
    check(n2 == n1, "the same input escaped to a different length");
    check(b.data[b.len] == '\0', "not NUL-terminated");
    check(memcmp(b.data + start, b.data + start + n1 + 1, n1) == 0,
          "the same input escaped differently");

    ps_buf_free(&b);
    return 0;
}
