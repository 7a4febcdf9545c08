/* The tensor type: a typed, contiguous, row-major view of up to 8 dimensions.
 * Weights point into the mapped checkpoint (read-only); activations are f32 and live in an
 * arena. Layout conventions: images and latents NCHW, token sequences [B, T, D]. */
#ifndef SDC_OPS_TENSOR_H
#define SDC_OPS_TENSOR_H

#include <stdint.h>

#include "ops/dtype.h"

#define SDC_MAX_DIMS 8

typedef struct sdc_tensor {
    sdc_dtype dtype;
    int ndim;
    int64_t shape[SDC_MAX_DIMS];
    const void *data;
} sdc_tensor;

static inline int64_t sdc_tensor_numel(const sdc_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

#endif
