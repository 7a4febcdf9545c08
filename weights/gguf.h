/* GGUF container reader (ggml's docs/gguf.md, the files stable-diffusion.cpp's convert writes):
 *
 *   "GGUF", u32 version (2 or 3), u64 tensor count, u64 key-value count
 *   key-value pairs: string key, u32 value type (0-12), value (arrays: u32 element type,
 *                    u64 count, elements); strings are u64 length + bytes
 *   tensor infos:    string name, u32 n_dims (1-4), u64 ne[n_dims] (ne[0] innermost),
 *                    u32 ggml type, u64 offset from the data start
 *   data:            at the header's end rounded up to general.alignment (default 32)
 *
 * The file is memory-mapped and validated completely before anything is exposed: a truncated
 * header, an unknown value or tensor type (a ggml type sdc does not expand is refused by its
 * name), a shape whose size overflows, a row that is not a whole number of blocks, tensor data
 * outside the file, misaligned or overlapping, duplicate names: each is a one-line error naming
 * the file. Tensor data stays in the mapping, in its own type (ops/quant.h expands it). */
#ifndef SDC_WEIGHTS_GGUF_H
#define SDC_WEIGHTS_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "sdc.h"

#define SDC_GGUF_MAX_DIMS 4
/* Longest tensor name or key accepted (ggml's own limit for names is 64). */
#define SDC_GGUF_MAX_NAME 1024

typedef struct sdc_gguf_tensor {
    char *name;              /* owned, NUL-terminated */
    uint32_t type;           /* ggml type id; sdc_qtype_get(type)->expand is never NULL */
    int ndim;
    int64_t ne[SDC_GGUF_MAX_DIMS]; /* ggml order: ne[0] is the row (innermost) length */
    int64_t numel;
    const uint8_t *data;     /* into the read-only mapping */
    size_t nbytes;
} sdc_gguf_tensor;

/* A key-value pair, its value as display text ("3", "\"sd1\"", "[u32 x 12]"). */
typedef struct sdc_gguf_kv {
    char *key;   /* owned */
    char *value; /* owned */
} sdc_gguf_kv;

typedef struct sdc_gguf sdc_gguf;

/* 1 when `path` starts with the GGUF magic. */
int sdc_gguf_sniff(const char *path);
/* Maps and validates `path`. On failure *out is NULL and the message names the file. */
sdc_status sdc_gguf_open(const char *path, sdc_gguf **out);
void sdc_gguf_close(sdc_gguf *g);

const char *sdc_gguf_path(const sdc_gguf *g);
uint32_t sdc_gguf_version(const sdc_gguf *g);
size_t sdc_gguf_file_size(const sdc_gguf *g);
/* The read-only mapping of the whole file. */
const void *sdc_gguf_map(const sdc_gguf *g);
/* Tensors in file order of their infos. */
size_t sdc_gguf_count(const sdc_gguf *g);
const sdc_gguf_tensor *sdc_gguf_tensor_at(const sdc_gguf *g, size_t index);
size_t sdc_gguf_kv_count(const sdc_gguf *g);
const sdc_gguf_kv *sdc_gguf_kv_at(const sdc_gguf *g, size_t index);

/* Expands the whole tensor to t->numel floats at dst, in PyTorch order (ggml's ne[]
 * reversed; row-major, no transposition). */
void sdc_gguf_expand(const sdc_gguf_tensor *t, float *dst);

#endif
