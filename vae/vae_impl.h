/* Internals of sdc_vae shared by vae.c (whole passes) and tiling.c (tiled passes). */
#ifndef SDC_VAE_VAE_IMPL_H
#define SDC_VAE_VAE_IMPL_H

#include "vae/encoder.h"
#include "vae/vae.h"

/* Defaults of --vae-tiling, in latent cells: 512-pixel tiles overlapping by 128 pixels. */
#define SDC_VAE_TILE_DEFAULT 64
#define SDC_VAE_OVERLAP_DEFAULT 16

/* Largest latent side accepted (16384 pixels). */
#define SDC_VAE_MAX_LATENT_SIDE 2048
/* Bounds of the posterior log-variance (diffusers DiagonalGaussianDistribution). */
#define SDC_VAE_LOGVAR_MIN -30.0f
#define SDC_VAE_LOGVAR_MAX 20.0f

struct sdc_vae {
    sdc_vae_decoder dec;
    int has_encoder;
    sdc_vae_encoder enc;            /* when has_encoder */
    sdc_layer quant_conv;       /* [2 zc, 2 zc], when has_encoder */
    sdc_layer post_quant_conv;  /* [zc, zc] */
    int z_channels;                 /* latent channels (4) */
    int scale;                      /* pixels per latent cell (8) */
    float scaling_factor;
    int tile, overlap;              /* tiled passes, in latent cells */
    sdc_arena arena;
    sdc_layer_table layers;         /* every convolution by checkpoint name */
};

/* image [B, 3, th * scale, tw * scale] = decode of the latent window
 * [y0, y0 + th) x [x0, x0 + tw) of latent [B, zc, h, w]. Uses the arena above its mark. */
sdc_status sdc_vae_decode_window(sdc_vae *vae, const float *latent, int B, int h, int w, int y0,
                                 int x0, int th, int tw, float *image);
/* moments [B, 2 zc, h, w] = quant_conv(encoder(pixel window [y0, y0 + wh) x [x0, x0 + ww) of
 * image [B, 3, H, W])), h x w being the encoder output size for wh x ww. Uses the arena above
 * its mark. */
sdc_status sdc_vae_encode_window(sdc_vae *vae, const float *image, int B, int H, int W, int y0,
                                 int x0, int wh, int ww, float *moments);

/* Tiled passes (tiling.c), called after the arguments were validated. */
sdc_status sdc_vae_decode_tiled(sdc_vae *vae, const float *latent, int B, int h, int w,
                                float *image);
sdc_status sdc_vae_encode_tiled(sdc_vae *vae, const float *image, int B, int H, int W,
                                float *mean, float *logvar);

/* The scaling factor for ck's VAE (config.py). */
sdc_status sdc_vae_find_scaling_factor(const sdc_checkpoint *ck, float *out);

#endif
