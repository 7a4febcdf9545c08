/* Loading helpers shared by the UNet blocks: layers (convolutions and linear maps with their
 * bias) and norms, looked up by LDM internal name ("<prefix>.<suffix>.weight"), with their
 * shapes checked against what the caller derived so far. Every error names the checkpoint
 * file and the tensor. */
#ifndef SDC_UNET_LOAD_H
#define SDC_UNET_LOAD_H

#include "ops/weight.h"
#include "weights/checkpoint.h"

/* Largest channel / feature count accepted from a checkpoint (real SD: 1280 and 5120). */
#define SDC_UNET_MAX_DIM 65536

/* GroupNorm groups everywhere in SD UNets. */
#define SDC_UNET_GROUPS 32

/* A convolution (k x k) or linear map (k = 1) with an optional bias. */
typedef struct sdc_unet_layer {
    sdc_weight w; /* [out, in * k * k] */
    float *bias;  /* [out], NULL when the layer has none */
    int in;       /* input channels / features */
    int k;        /* kernel size (1 for linear maps) */
} sdc_unet_layer;

/* Per-channel affine of a GroupNorm or LayerNorm. */
typedef struct sdc_unet_norm {
    float *gamma; /* [channels] */
    float *beta;  /* [channels] */
} sdc_unet_norm;

/* Size of the name prefixes the blocks build ("output_blocks.11.1.transformer_blocks.0.attn2"
 * and the like: all made by sdc from its own formats, never from file content). */
#define SDC_UNET_PREFIX_MAX 128

/* buf [SDC_UNET_PREFIX_MAX] = printf(fmt, ...), truncated if ever too long (a truncated name
 * then fails its lookup with an error naming it). */
void sdc_unet_prefix(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The UNet tensor "<prefix>.<suffix>", or NULL when absent (suffix may be NULL). */
const sdc_tensor *sdc_unet_tensor(const sdc_checkpoint *ck, const char *prefix,
                                  const char *suffix);

/* Loads "<prefix>.<suffix>.weight" of shape [out, in, k, k] (for k = 1 also [out, in]) and,
 * when with_bias, "<prefix>.<suffix>.bias" [out]. `in` < 0 accepts any input width; `out`
 * is derived from the shape and left in l->w.rows. */
sdc_status sdc_unet_layer_load(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                               int in, int k, int with_bias, sdc_unet_layer *l);
void sdc_unet_layer_free(sdc_unet_layer *l);

/* Loads "<prefix>.<suffix>.weight" and ".bias", both [channels]. */
sdc_status sdc_unet_norm_load(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                              int channels, sdc_unet_norm *n);
void sdc_unet_norm_free(sdc_unet_norm *n);

/* Fails unless layer "<prefix>.<suffix>" has `want` outputs (rows). */
sdc_status sdc_unet_check_rows(const sdc_checkpoint *ck, const char *prefix,
                               const char *suffix, const sdc_unet_layer *l, int want);

/* Fails unless `channels` splits into SDC_UNET_GROUPS groups ("what" names the block). */
sdc_status sdc_unet_check_groups(const sdc_checkpoint *ck, const char *what, int channels);

#endif
