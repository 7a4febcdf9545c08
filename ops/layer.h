/* The one layer type of every model (text encoders, UNet, VAE): a linear map or a k x k
 * convolution with an optional bias, and an optional list of low-rank adapters applied at
 * run time,
 *     y = W x + b + sum over adapters of scale * up(down(x)),
 * where down has the layer's kernel, stride and padding and up is 1 x 1 (LoRA / LoCon as
 * kohya-ss and diffusers define them). Norms are per-channel affines. Layers are found by
 * their checkpoint name through a sdc_layer_table (weights/layer_table.h). */
#ifndef SDC_OPS_LAYER_H
#define SDC_OPS_LAYER_H

#include "ops/arena.h"
#include "ops/weight.h"

typedef struct sdc_adapter {
    sdc_weight down;          /* [rank, in * k * k] */
    sdc_weight up;            /* [out, rank] */
    float scale;              /* alpha / rank x the user's weight */
    struct sdc_adapter *next; /* the layer's next adapter, or NULL */
} sdc_adapter;

typedef struct sdc_layer {
    sdc_weight w;          /* [out, in * k * k] */
    float *bias;           /* [out], NULL when the layer has none */
    int in;                /* input channels / features */
    int k;                 /* kernel size (1 for linear maps) */
    sdc_adapter *adapters; /* owned list, NULL when none */
} sdc_layer;

/* Per-channel affine of a GroupNorm or LayerNorm. */
typedef struct sdc_norm {
    float *gamma; /* [channels] */
    float *beta;  /* [channels] */
} sdc_norm;

static inline int sdc_layer_out(const sdc_layer *l) { return l->w.rows; }

/* y [M, out] = layer(x [M, in]) for a linear layer (k = 1). Returns 0, or -1 when scratch
 * for an adapter could not be had (from `arena` when given, else malloc). */
int sdc_layer_linear(const sdc_layer *l, float *y, const float *x, int M, sdc_arena *arena)
    __attribute__((warn_unused_result));

/* y [B, out, Ho, Wo] = layer(x [B, in, H, W]) with the layer's k and the given stride and
 * padding. Returns 0, or -1 when scratch memory ran out. */
int sdc_layer_conv(const sdc_layer *l, float *y, const float *x, int B, int H, int W,
                   int stride, int pad, sdc_arena *arena) __attribute__((warn_unused_result));

/* Appends `a` (the layer takes ownership: its weights and the struct are freed with it).
 * Fails unless a->down is [rank, in * k * k] and a->up [out, rank]. */
sdc_status sdc_layer_add_adapter(sdc_layer *l, sdc_adapter *a);
/* Frees the adapters (the layer's own weight stays). */
void sdc_layer_clear_adapters(sdc_layer *l);

/* Under --precision int8 (sdc_precision_get() == SDC_PRECISION_INT8), makes a linear layer's
 * weight one the int8 GEMM reads (a q8_0 weight, or one of the 4- and 5-bit types of
 * sdc_gemm_q8_reads, of the file stays mapped,
 * others are quantised to q8_0 into owned memory by sdc_weight_to_q8_0) so that sdc_layer_linear runs it on the int8 GEMM; layers whose
 * input width is not a multiple of 32 stay as they are. Otherwise does nothing. */
sdc_status sdc_layer_prefer_int8(sdc_layer *l);

/* Frees weight (when owned), bias and adapters. */
void sdc_layer_free(sdc_layer *l);
void sdc_norm_free(sdc_norm *n);

#endif
