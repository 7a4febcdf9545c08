/* The VAE mid-block self-attention (LDM AttnBlock, diffusers Attention with one head):
 *   h = GN(x);  q, k, v = Wq h, Wk h, Wv h     (each [C, T], T = H*W tokens)
 *   x += proj_out(v softmax(q^T k / sqrt(C))^T)
 * computed channel-major (no transposes) a tile of queries at a time.
 * One head as wide as the channels. The projections are 1x1 convolutions [C, C, 1, 1] in
 * single files and linear maps [C, C] in diffusers folders: the same numbers either way. */
#ifndef SDC_VAE_ATTENTION_H
#define SDC_VAE_ATTENTION_H

#include "vae/load.h"

typedef struct sdc_vae_attention {
    int c;
    sdc_norm norm;      /* [c] */
    sdc_layer q;        /* [c, c] */
    sdc_layer k;        /* [c, c] */
    sdc_layer v;        /* [c, c] */
    sdc_layer proj_out; /* [c, c] */
} sdc_vae_attention;

/* Loads "<prefix>.{norm,q,k,v,proj_out}" for c channels. */
sdc_status sdc_vae_attention_load(sdc_vae_attention *a, const sdc_layer_source *src,
                                  const char *prefix, int c);
void sdc_vae_attention_free(sdc_vae_attention *a);

/* x [B, c, H, W] += attention(x), in place. */
sdc_status sdc_vae_attention_forward(const sdc_vae_attention *a, const sdc_vae_pass *p, float *x,
                                     int H, int W);

#endif
