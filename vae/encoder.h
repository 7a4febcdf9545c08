/* The VAE encoder (LDM Encoder, diffusers Encoder with double_z):
 *   image [B, 3, H, W] -> conv_in -> down.0 ... down.{n-1} (resnets, then pad + stride-2
 *   conv except at the last level) -> mid (resnet, attention, resnet)
 *   -> GroupNorm + SiLU -> conv_out -> moments [B, 2 zc, h, w]
 * Channels, level count and resnets per level come from tensor shapes. */
#ifndef SDC_VAE_ENCODER_H
#define SDC_VAE_ENCODER_H

#include "vae/decoder.h"

typedef struct sdc_vae_encoder {
    int in_channels;                        /* image channels (3) */
    int out_channels;                       /* 2 * latent channels (mean, logvar) */
    int n_levels;
    sdc_layer conv_in;                  /* [c_0, in_channels * 3 * 3] */
    sdc_vae_level down[SDC_VAE_MAX_LEVELS]; /* down[0] runs first */
    sdc_vae_mid mid;                        /* [c_top] */
    sdc_norm norm_out;                  /* [c_top] */
    sdc_layer conv_out;                 /* [2 zc, c_top * 3 * 3] */
} sdc_vae_encoder;

sdc_status sdc_vae_encoder_load(sdc_vae_encoder *e, const sdc_layer_source *src);
void sdc_vae_encoder_free(sdc_vae_encoder *e);

/* Latent size for an image of H x W; 0 when the image is too small to encode. */
int sdc_vae_encoder_out_size(const sdc_vae_encoder *e, int H, int W, int *h, int *w);

/* moments [B, out_channels, h, w] = encoder(image [B, in_channels, H, W]). */
sdc_status sdc_vae_encoder_forward(const sdc_vae_encoder *e, const sdc_vae_pass *p,
                                   const float *image, int H, int W, float *moments);

#endif
