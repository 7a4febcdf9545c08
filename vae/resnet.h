/* The VAE's ResNet block (LDM ResnetBlock without time embedding, diffusers ResnetBlock2D
 * with temb_channels None):
 *   h = conv1(SiLU(GN(x)));  y = skip(x) + conv2(SiLU(GN(h)))
 * skip = identity, or the 1x1 conv nin_shortcut when the channel count changes.
 * GroupNorm: 32 groups, eps 1e-6. Layout NCHW. */
#ifndef SDC_VAE_RESNET_H
#define SDC_VAE_RESNET_H

#include "vae/load.h"

typedef struct sdc_vae_resnet {
    int c_in, c_out;
    sdc_norm norm1;  /* [c_in] */
    sdc_layer conv1; /* [c_out, c_in * 3 * 3] */
    sdc_norm norm2;  /* [c_out] */
    sdc_layer conv2; /* [c_out, c_out * 3 * 3] */
    int has_skip;
    sdc_layer skip;  /* [c_out, c_in], when c_in != c_out   nin_shortcut */
} sdc_vae_resnet;

/* Loads "<prefix>.*" for c_in input channels; c_out comes from conv1's shape. */
sdc_status sdc_vae_resnet_load(sdc_vae_resnet *r, const sdc_layer_source *src, const char *prefix,
                               int c_in);
void sdc_vae_resnet_free(sdc_vae_resnet *r);

/* x [B, c_out, H, W] = resnet(x [B, c_in, H, W]), in place: x's buffer holds
 * B * max(c_in, c_out) * H * W floats. Takes B * c_out * H * W floats of arena besides
 * convolution scratch (the convolutions run in place, a band of rows at a time). */
sdc_status sdc_vae_resnet_forward(const sdc_vae_resnet *r, const sdc_vae_pass *p, float *x,
                                  int H, int W);

#endif
