/* Loading helpers shared by the VAE blocks: layers (convolutions, and the mid-block attention
 * projections that single files store as 1x1 convolutions [C, C, 1, 1] and diffusers folders
 * as linear maps [C, C]) and GroupNorm affines, looked up by LDM internal name
 * ("<prefix>.<suffix>.weight", prefix without "first_stage_model."). Shapes are checked
 * against what the caller derived so far; every error names the checkpoint file and tensor. */
#ifndef SDC_VAE_LOAD_H
#define SDC_VAE_LOAD_H

#include "ops/arena.h"
#include "ops/weight.h"
#include "weights/checkpoint.h"

/* Largest channel count accepted from a checkpoint (real VAEs: 512). */
#define SDC_VAE_MAX_DIM 16384
/* GroupNorm in every VAE block: 32 groups, eps 1e-6. */
#define SDC_VAE_GROUPS 32
#define SDC_VAE_NORM_EPS 1e-6f
/* Size of the names the blocks build ("decoder.up.3.block.2.nin_shortcut" and the like). */
#define SDC_VAE_NAME_MAX 128

/* A k x k convolution (k = 1 also reads [out, in] linear weights) with its bias. */
typedef struct sdc_vae_layer {
    sdc_weight w; /* [out, in * k * k] */
    float *bias;  /* [out] */
    int in, out;  /* channels */
    int k;        /* kernel size */
} sdc_vae_layer;

/* GroupNorm affine. */
typedef struct sdc_vae_norm {
    float *gamma; /* [channels] */
    float *beta;  /* [channels] */
} sdc_vae_norm;

/* What every block needs during one forward pass besides its weights. */
typedef struct sdc_vae_pass {
    sdc_arena *arena; /* activations and kernel scratch, released block by block */
    int B;            /* batch size */
} sdc_vae_pass;

/* buf [SDC_VAE_NAME_MAX] = printf(fmt, ...); a truncated name fails its lookup by name. */
void sdc_vae_name(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1 when the VAE tensor "<prefix>.<suffix>.weight" exists. */
int sdc_vae_has(const sdc_checkpoint *ck, const char *prefix, const char *suffix);

/* Loads "<prefix>.<suffix>.weight" [out, in, k, k] and ".bias" [out]. `in` < 0 accepts any
 * input width; out is derived from the shape. */
sdc_status sdc_vae_layer_load(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                              int in, int k, sdc_vae_layer *l);
void sdc_vae_layer_free(sdc_vae_layer *l);
/* Fails unless layer "<prefix>.<suffix>" has `want` outputs. */
sdc_status sdc_vae_check_out(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                             const sdc_vae_layer *l, int want);

/* Loads "<prefix>.<suffix>.weight" and ".bias", both [channels]; channels must split into
 * SDC_VAE_GROUPS groups. */
sdc_status sdc_vae_norm_load(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                             int channels, sdc_vae_norm *n);
void sdc_vae_norm_free(sdc_vae_norm *n);

/* y [B, out, Ho, Wo] = layer(x [B, in, H, W]) with the given stride and padding. */
sdc_status sdc_vae_conv(const sdc_vae_layer *l, const sdc_vae_pass *p, float *y, const float *x,
                        int H, int W, int stride, int pad);

/* The one out-of-memory error of a forward pass; releases the arena to `mark` first. */
sdc_status sdc_vae_nomem(const sdc_vae_pass *p, size_t mark, const char *what);

/* y [B, C, HW] = GroupNorm(x) with n's affine (SiLU after when silu); y may equal x. */
void sdc_vae_group_norm(const sdc_vae_pass *p, float *y, const float *x, int C, int HW,
                        const sdc_vae_norm *n, int silu);

#endif
