/* The VAE mid block, shared by encoder and decoder: resnet, self-attention, resnet, all at
 * one channel count. */
#ifndef SDC_VAE_MID_H
#define SDC_VAE_MID_H

#include "vae/attention.h"
#include "vae/resnet.h"

typedef struct sdc_vae_mid {
    sdc_vae_resnet block_1; /* [c] -> [c] */
    sdc_vae_attention attn; /* [c] */
    sdc_vae_resnet block_2; /* [c] -> [c] */
} sdc_vae_mid;

/* Loads "<prefix>.{block_1,attn_1,block_2}" (prefix "encoder.mid" / "decoder.mid"). */
sdc_status sdc_vae_mid_load(sdc_vae_mid *m, const sdc_layer_source *src, const char *prefix, int c);
void sdc_vae_mid_free(sdc_vae_mid *m);

/* x [B, c, H, W] = mid(x), in place. */
sdc_status sdc_vae_mid_forward(const sdc_vae_mid *m, const sdc_vae_pass *p, float *x, int H,
                               int W);

#endif
