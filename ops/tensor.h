/* The tensor type: a typed, contiguous, row-major view of up to 8 dimensions.
 * Weights point into the mapped checkpoint (read-only); activations are f32 and live in an
 * arena. Layout conventions: images and latents NCHW, token sequences [B, T, D]. */
#ifndef SDC_OPS_TENSOR_H
#define SDC_OPS_TENSOR_H

#include <stdint.h>

#include "ops/dtype.h"
#include "ops/quant.h"

#define SDC_MAX_DIMS 8

typedef struct sdc_tensor {
    sdc_dtype dtype;
    int ndim;
    int64_t shape[SDC_MAX_DIMS];
    const void *data;
    /* A tensor of a quantised GGUF file: `data` (F32) is the expansion of these rows of ggml
     * blocks of type `quant`, made only when the tensor is loaded; a weight can instead
     * use the blocks as they are (sdc_weight_load). NULL for every other tensor. */
    const sdc_qtype_info *quant;
    const void *blocks;
} sdc_tensor;

/* Whether a weight view may read `t` as rows of blocks: a 2-D tensor (linear layers; the
 * rows of a [out, in] matrix are whole numbers of blocks by construction). */
static inline int sdc_tensor_blocked(const sdc_tensor *t)
{
    return t->quant && t->blocks && t->ndim == 2;
}

static inline int64_t sdc_tensor_numel(const sdc_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

#endif
