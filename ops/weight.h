/* Model parameters in the kernels' format. Weights of linear layers and convolutions become
 * an sdc_weight once at load (today: f32 row-major [rows = outputs, cols = inputs * kh * kw];
 * the layout is private to ops/ so kernels may repack it); vectors (biases, norm scales)
 * become plain f32 arrays. */
#ifndef SDC_OPS_WEIGHT_H
#define SDC_OPS_WEIGHT_H

#include "ops/tensor.h"
#include "sdc.h"

typedef struct sdc_weight {
    int rows;    /* output features / channels */
    int cols;    /* input features (x kernel area) */
    float *data; /* owned, [rows, cols] */
} sdc_weight;

/* Converts `t` (F32/F16/BF16) into w; its element count must be rows * cols.
 * `name` is used in the error message. */
sdc_status sdc_weight_load(sdc_weight *w, const sdc_tensor *t, int rows, int cols,
                           const char *name);
/* Like sdc_weight_load from a sub-range of rows [row0, row0 + rows) of a [R, cols] tensor. */
sdc_status sdc_weight_load_rows(sdc_weight *w, const sdc_tensor *t, int row0, int rows, int cols,
                                const char *name);
void sdc_weight_free(sdc_weight *w);

/* Converts a vector of n elements (checked) into a new f32 array in *out (caller frees). */
sdc_status sdc_vector_load(float **out, const sdc_tensor *t, int n, const char *name);

#endif
