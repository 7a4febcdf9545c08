/* Helpers shared by the VAE blocks. Layers are the one layer type (ops/layer.h: convolutions,
 * and the mid-block attention projections that single files store as 1x1 convolutions
 * [C, C, 1, 1] and diffusers folders as linear maps [C, C]) loaded by the one loader
 * (weights/layer_load.h) under their LDM internal name ("<prefix>.<suffix>.weight", prefix
 * without "first_stage_model."). Every error names the checkpoint file and tensor. */
#ifndef SDC_VAE_LOAD_H
#define SDC_VAE_LOAD_H

#include "ops/arena.h"
#include "ops/layer.h"
#include "weights/layer_load.h"

/* Largest channel count accepted from a checkpoint (real VAEs: 512). */
#define SDC_VAE_MAX_DIM 16384
/* GroupNorm in every VAE block: 32 groups, eps 1e-6. */
#define SDC_VAE_GROUPS 32
#define SDC_VAE_NORM_EPS 1e-6f
/* Size of the names the blocks build ("decoder.up.3.block.2.nin_shortcut" and the like). */
#define SDC_VAE_NAME_MAX 128

/* What every block needs during one forward pass besides its weights. */
typedef struct sdc_vae_pass {
    sdc_arena *arena; /* activations and kernel scratch, released block by block */
    int B;            /* batch size */
} sdc_vae_pass;

/* buf [SDC_VAE_NAME_MAX] = printf(fmt, ...); a truncated name fails its lookup by name. */
void sdc_vae_name(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The VAE component of ck, registering layers in `table` (may be NULL). */
sdc_layer_source sdc_vae_source(const sdc_checkpoint *ck, sdc_layer_table *table);

/* 1 when the VAE tensor "<prefix>.<suffix>.weight" exists. */
int sdc_vae_has(const sdc_layer_source *src, const char *prefix, const char *suffix);

/* Loads a GroupNorm affine "<prefix>.<suffix>.{weight,bias}" of `channels`, which must split
 * into SDC_VAE_GROUPS groups. */
sdc_status sdc_vae_norm_load(const sdc_layer_source *src, const char *prefix,
                             const char *suffix, int channels, sdc_norm *n);

/* y [B, out, Ho, Wo] = layer(x [B, in, H, W]) with the given stride and padding. */
sdc_status sdc_vae_conv(const sdc_layer *l, const sdc_vae_pass *p, float *y, const float *x,
                        int H, int W, int stride, int pad);

/* The one out-of-memory error of a forward pass; releases the arena to `mark` first. */
sdc_status sdc_vae_nomem(const sdc_vae_pass *p, size_t mark, const char *what);

/* y [B, C, HW] = GroupNorm(x) with n's affine (SiLU after when silu); y may equal x. */
void sdc_vae_group_norm(const sdc_vae_pass *p, float *y, const float *x, int C, int HW,
                        const sdc_norm *n, int silu);

#endif
