/* The UNet's spatial transformer (LDM SpatialTransformer, diffusers Transformer2DModel):
 *   t = proj_in(GN(x)) as tokens [B, H*W, inner]      GroupNorm 32 groups, eps 1e-6
 *   per block: t += attn1(LN1(t)); t += attn2(LN2(t), context); t += ff(LN3(t))
 *   (attn1 attends to the context instead where its keys are context-wide: LDM's
 *   disable_self_attn, diffusers' only_cross_attention)
 *   y = x + proj_out(t)
 * ff = GEGLU projection to 2 * ff_dim, then a linear map back. LayerNorm eps 1e-5.
 * proj_in / proj_out are 1x1 convolutions in SD 1.x and linear maps in SD 2.x; on tokens
 * both are the same matrix product. */
#ifndef SDC_UNET_TRANSFORMER_H
#define SDC_UNET_TRANSFORMER_H

#include "unet/attention.h"
#include "unet/load.h"
#include "unet/pass.h"

typedef struct sdc_unet_transformer_block {
    sdc_norm norm1;      /* [inner]                 norm1 */
    sdc_unet_attention attn1; /* self-attention, or cross-attention when attn1_on_context */
    int attn1_on_context;     /* LDM disable_self_attn (the x4 upscaler's levels 1-2): attn1
                                 reads the context; seen from its key width */
    sdc_norm norm2;      /* [inner]                 norm2 */
    sdc_unet_attention attn2; /* cross-attention         attn2 */
    sdc_norm norm3;      /* [inner]                 norm3 */
    sdc_layer ff_in;     /* [2 * ff_dim, inner]     ff.net.0.proj */
    sdc_layer ff_out;    /* [inner, ff_dim]         ff.net.2 */
} sdc_unet_transformer_block;

typedef struct sdc_unet_transformer {
    int channels;                       /* C of the feature map */
    int inner;                          /* token width */
    int depth;                          /* number of blocks */
    sdc_norm norm;                 /* [C]              norm */
    sdc_layer proj_in;             /* [inner, C]       proj_in */
    sdc_unet_transformer_block *blocks; /* [depth]          transformer_blocks.<i> */
    sdc_layer proj_out;            /* [C, inner]       proj_out */
} sdc_unet_transformer;

/* Loads "<prefix>.*" for a C-channel feature map. *context_dim < 0 takes the width from the
 * checkpoint and stores it; otherwise the checkpoint must agree with it. */
sdc_status sdc_unet_transformer_load(sdc_unet_transformer *t, const sdc_layer_source *src,
                                     const char *prefix, int channels, int *context_dim,
                                     const sdc_unet_heads *rule);
void sdc_unet_transformer_free(sdc_unet_transformer *t);

/* x [B, C, H, W] += transformer(x) in place. */
sdc_status sdc_unet_transformer_forward(const sdc_unet_transformer *t, const sdc_unet_pass *p,
                                        float *x, int H, int W);

/* Whether "<prefix>" holds a spatial transformer, and whether it projects linearly (SD 2.x
 * style) rather than with 1x1 convolutions. */
int sdc_unet_transformer_present(const sdc_layer_source *src, const char *prefix);
int sdc_unet_transformer_linear(const sdc_layer_source *src, const char *prefix);

#endif
