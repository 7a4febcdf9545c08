/* Weights of the 4- and 5-bit ggml types as the int8 GEMM reads them (private to ops/): each
 * block of 32 values along a row is x = scale * q + offset with q small integers, exactly as
 * ggml dequantises them up to the f32 rounding of scale * q + offset:
 *
 *   q4_0, q5_0   q - 8, q - 16 (0 ... 15, 0 ... 31 stored), scale d, offset 0
 *   q4_1, q5_1   q (0 ... 15, 0 ... 31), scale d, offset m
 *   q4_K, q5_K   q (0 ... 15, 0 ... 31) of sub-block s of a 256-value super-block,
 *                scale d * sc_s, offset -dmin * m_s (six-bit sc_s, m_s)
 *
 * so a dot product with quantised activations (scale dx, integers qx) is
 * scale * dx * sum(q * qx) + offset * dx * sum(qx): an integer dot product as for q8_0, plus
 * a term the block sums of the activations give. The 2-, 3- and 6-bit K-quants have scales
 * per 16 values and are not read this way. */
#ifndef SDC_OPS_Q8_UNPACK_H
#define SDC_OPS_Q8_UNPACK_H

#include <stdint.h>

#include "ops/quant.h"

/* Block b of a row of type wq (row: the row's first byte): q[32], scale, offset. */
typedef void (*sdc_q8_unpack_fn)(const uint8_t *row, int b, int8_t *q, float *scale,
                                 float *offset);

typedef struct sdc_q8_unpacker {
    sdc_q8_unpack_fn block;
    int has_offset; /* offsets may be non-zero */
} sdc_q8_unpacker;

/* The unpacker of wq, or NULL for a type not read this way (q8_0 itself is read as it is). */
const sdc_q8_unpacker *sdc_q8_unpacker_for(const sdc_qtype_info *wq);

#endif
