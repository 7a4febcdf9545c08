/* Writes small GGUF files for the reader's tests and the fuzz seed corpus: the fields in order,
 * little-endian, into a growing buffer. */
#ifndef SDC_TESTS_GGUF_BUILD_H
#define SDC_TESTS_GGUF_BUILD_H

#include <stddef.h>
#include <stdint.h>

typedef struct gguf_build {
    uint8_t *buf;
    size_t len, cap;
} gguf_build;

void gb_bytes(gguf_build *b, const void *p, size_t n);
void gb_u32(gguf_build *b, uint32_t v);
void gb_u64(gguf_build *b, uint64_t v);
void gb_str(gguf_build *b, const char *s);
/* Zero bytes up to the next multiple of `align`. */
void gb_pad(gguf_build *b, size_t align);
/* "GGUF", version, counts. */
void gb_header(gguf_build *b, uint32_t version, uint64_t tensors, uint64_t kvs);
/* One tensor info: name, dims (ggml order, ne[0] first), ggml type, data offset. */
void gb_tensor(gguf_build *b, const char *name, int ndim, const uint64_t *ne, uint32_t type,
               uint64_t offset);
/* A valid file of two tensors: "a" f32 [2, 4] (PyTorch order) with values 0..7, then "b" q8_0
 * [2, 32] with d = 0.5 and q = i - 32 (i = 0..63), and one key "general.name" = "tiny".
 * The caller frees b->buf. */
void gb_example(gguf_build *b);
void gb_free(gguf_build *b);

#endif
