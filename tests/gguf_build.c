#include "tests/gguf_build.h"

#include <stdlib.h>
#include <string.h>

void gb_bytes(gguf_build *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *grown = realloc(b->buf, cap);
        if (!grown)
            abort(); /* test helper: a failed allocation ends the test */
        b->buf = grown;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void put_le(gguf_build *b, uint64_t v, int bytes)
{
    uint8_t le[8];
    for (int i = 0; i < bytes; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    gb_bytes(b, le, (size_t)bytes);
}

void gb_u32(gguf_build *b, uint32_t v) { put_le(b, v, 4); }
void gb_u64(gguf_build *b, uint64_t v) { put_le(b, v, 8); }

void gb_str(gguf_build *b, const char *s)
{
    gb_u64(b, strlen(s));
    gb_bytes(b, s, strlen(s));
}

void gb_pad(gguf_build *b, size_t align)
{
    static const uint8_t zero[64];
    while (b->len % align)
        gb_bytes(b, zero, 1);
}

void gb_header(gguf_build *b, uint32_t version, uint64_t tensors, uint64_t kvs)
{
    gb_bytes(b, "GGUF", 4);
    gb_u32(b, version);
    gb_u64(b, tensors);
    gb_u64(b, kvs);
}

void gb_tensor(gguf_build *b, const char *name, int ndim, const uint64_t *ne, uint32_t type,
               uint64_t offset)
{
    gb_str(b, name);
    gb_u32(b, (uint32_t)ndim);
    for (int i = 0; i < ndim; i++)
        gb_u64(b, ne[i]);
    gb_u32(b, type);
    gb_u64(b, offset);
}

void gb_example(gguf_build *b)
{
    *b = (gguf_build){0};
    gb_header(b, 3, 2, 1);
    gb_str(b, "general.name");
    gb_u32(b, 8); /* string */
    gb_str(b, "tiny");
    gb_tensor(b, "a", 2, (const uint64_t[]){4, 2}, 0, 0);
    gb_tensor(b, "b", 2, (const uint64_t[]){32, 2}, 8, 32);
    gb_pad(b, 32);
    for (int i = 0; i < 8; i++) {
        float f = (float)i;
        gb_bytes(b, &f, 4); /* little-endian hosts only, as sdc is */
    }
    for (int blk = 0; blk < 2; blk++) {
        gb_bytes(b, (const uint8_t[]){0x00, 0x38}, 2); /* 0.5 as an IEEE half */
        for (int j = 0; j < 32; j++) {
            int8_t q = (int8_t)(blk * 32 + j - 32);
            gb_bytes(b, &q, 1);
        }
    }
}

void gb_free(gguf_build *b)
{
    free(b->buf);
    *b = (gguf_build){0};
}
