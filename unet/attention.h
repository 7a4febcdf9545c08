/* Multi-head attention of the UNet's transformer blocks (LDM CrossAttention, diffusers
 * Attention): q = x Wq, k = c Wk, v = c Wv (no biases), per head softmax(q k^T / sqrt(d)) v,
 * then to_out (with bias). Self-attention is the case c = x. Token layout [B, T, width]. */
#ifndef SDC_UNET_ATTENTION_H
#define SDC_UNET_ATTENTION_H

#include "ops/arena.h"
#include "unet/load.h"

/* How a model family splits the attention width into heads: a fixed head count (SD 1.x: 8)
 * or a fixed head size (SD 2.x and SDXL: 64). Exactly one of the two is non-zero. */
typedef struct sdc_unet_heads {
    int count;
    int size;
} sdc_unet_heads;

typedef struct sdc_unet_attention {
    int dim;            /* query (and output) width */
    int context_dim;    /* key / value source width */
    int inner;          /* heads * head_dim */
    int heads, head_dim;
    sdc_layer q;   /* [inner, dim]          to_q */
    sdc_layer k;   /* [inner, context_dim]  to_k */
    sdc_layer v;   /* [inner, context_dim]  to_v */
    sdc_layer out; /* [dim, inner] + bias   to_out.0 */
} sdc_unet_attention;

/* Loads "<prefix>.to_q" etc. context_dim < 0 takes the width from to_k. */
sdc_status sdc_unet_attention_load(sdc_unet_attention *a, const sdc_layer_source *src,
                                   const char *prefix, int dim, int context_dim,
                                   const sdc_unet_heads *rule);
void sdc_unet_attention_free(sdc_unet_attention *a);

/* y [B, Tq, dim] = attention(x [B, Tq, dim], c [B, Tk, context_dim]); y aliases neither. */
sdc_status sdc_unet_attention_forward(const sdc_unet_attention *a, sdc_arena *arena, float *y,
                                      const float *x, int B, int Tq, const float *c, int Tk);

#endif
