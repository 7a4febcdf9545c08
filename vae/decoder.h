/* The VAE decoder (LDM Decoder, diffusers Decoder):
 *   z [B, zc, h, w] -> conv_in -> mid (resnet, attention, resnet)
 *   -> up.{n-1} ... up.0 (resnets, then nearest 2x + conv except at up.0)
 *   -> GroupNorm + SiLU -> conv_out -> image [B, 3, 8h, 8w]
 * LDM numbers the up levels bottom-up: decoder.up.{n-1} is the first applied (diffusers
 * up_blocks.0). Channels, level count and resnets per level come from tensor shapes. */
#ifndef SDC_VAE_DECODER_H
#define SDC_VAE_DECODER_H

#include "vae/level.h"
#include "vae/mid.h"

#define SDC_VAE_MAX_LEVELS 8

typedef struct sdc_vae_decoder {
    int z_channels;                       /* latent channels (4) */
    int out_channels;                     /* image channels (3) */
    int n_levels;
    sdc_layer conv_in;                /* [c_top, zc * 3 * 3] */
    sdc_vae_mid mid;                      /* [c_top] */
    sdc_vae_level up[SDC_VAE_MAX_LEVELS]; /* up[n_levels - 1] runs first */
    sdc_norm norm_out;                /* [c_last] */
    sdc_layer conv_out;               /* [out_channels, c_last * 3 * 3] */
} sdc_vae_decoder;

sdc_status sdc_vae_decoder_load(sdc_vae_decoder *d, const sdc_layer_source *src);
void sdc_vae_decoder_free(sdc_vae_decoder *d);

/* Image size for a latent of h x w (8h x 8w for SD VAEs). */
void sdc_vae_decoder_out_size(const sdc_vae_decoder *d, int h, int w, int *H, int *W);

/* image [B, out_channels, H, W] = decoder(z [B, z_channels, h, w]); image is caller memory
 * that may not alias z. */
sdc_status sdc_vae_decoder_forward(const sdc_vae_decoder *d, const sdc_vae_pass *p,
                                   const float *z, int h, int w, float *image);

#endif
