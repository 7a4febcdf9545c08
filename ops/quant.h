/* ggml's tensor types (the type ids of GGUF files) and their expansion to f32.
 *
 * A block-quantised row is a run of blocks along the innermost dimension (ggml's ne[0]); each
 * block holds `block` elements in `block_bytes` bytes, little-endian, scales as IEEE halves.
 * The expansions follow ggml-quants.c's dequantize_row_* exactly: every value is the same
 * float product (or product minus offset) in the same order, never contracted into an FMA,
 * so a sha256 of the f32 bytes matches ggml's. This is the scalar reference the GEMM packing
 * of quantised weights is checked against. */
#ifndef SDC_OPS_QUANT_H
#define SDC_OPS_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* The ggml type ids sdc reads (the others are only named, see sdc_qtype_name). */
typedef enum sdc_qtype {
    SDC_QTYPE_F32 = 0,
    SDC_QTYPE_F16 = 1,
    SDC_QTYPE_Q4_0 = 2,
    SDC_QTYPE_Q4_1 = 3,
    SDC_QTYPE_Q5_0 = 6,
    SDC_QTYPE_Q5_1 = 7,
    SDC_QTYPE_Q8_0 = 8,
    SDC_QTYPE_Q2_K = 10,
    SDC_QTYPE_Q3_K = 11,
    SDC_QTYPE_Q4_K = 12,
    SDC_QTYPE_Q5_K = 13,
    SDC_QTYPE_Q6_K = 14,
    SDC_QTYPE_BF16 = 30,
} sdc_qtype;

/* Expands `nblocks` consecutive blocks at `src` into nblocks * block floats at `dst`. */
typedef void (*sdc_qtype_expand_fn)(const uint8_t *src, float *dst, size_t nblocks);

typedef struct sdc_qtype_info {
    const char *name;    /* ggml's spelling: "f32", "q8_0", "q4_K", ... */
    int block;           /* elements per block (1 for f32 / f16 / bf16) */
    int block_bytes;     /* bytes per block */
    sdc_qtype_expand_fn expand; /* NULL: a type sdc does not read */
} sdc_qtype_info;

/* The type with ggml id `id`, or NULL for an id ggml never had or has retired. Types sdc
 * does not read still have a name (and expand == NULL), so a file using one is refused by
 * name. */
const sdc_qtype_info *sdc_qtype_get(uint32_t id);
/* Name of ggml type `id` ("q4_K", "iq2_xxs", ...), or "unknown" */
const char *sdc_qtype_name(uint32_t id);
/* The readable type named `name` (case-insensitive: "q8_0", "Q4_K"); -1 when none. */
int sdc_qtype_from_name(const char *name);

#endif
