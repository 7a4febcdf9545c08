/* One resolution level of the VAE: a run of resnets followed by an optional resampler.
 *   encoder.down.N: resnets, then (except the last level) downsample = zero-pad right and
 *                   bottom by one pixel, conv 3x3 stride 2 without padding (LDM Downsample,
 *                   diffusers Downsample2D with padding 0)
 *   decoder.up.N:   resnets, then (except level 0) upsample = nearest 2x, conv 3x3 pad 1
 * Levels run in place on one buffer the caller sizes with sdc_vae_level_max_floats. */
#ifndef SDC_VAE_LEVEL_H
#define SDC_VAE_LEVEL_H

#include "vae/resnet.h"

#define SDC_VAE_MAX_RESNETS 8

typedef enum sdc_vae_resample {
    SDC_VAE_RESAMPLE_NONE,
    SDC_VAE_RESAMPLE_DOWN,
    SDC_VAE_RESAMPLE_UP,
} sdc_vae_resample;

typedef struct sdc_vae_level {
    int c_in, c_out;
    int n_resnets;
    sdc_vae_resnet resnets[SDC_VAE_MAX_RESNETS]; /* block.M: [c_in or c_out] -> [c_out] */
    sdc_vae_resample resample;                   /* NONE when the level has no sampler */
    sdc_layer conv;                          /* [c_out, c_out * 3 * 3]  *sample.conv */
} sdc_vae_level;

/* Loads "<prefix>.block.M" (as many as exist) and, when present, "<prefix>.downsample.conv"
 * (kind DOWN) or "<prefix>.upsample.conv" (kind UP). */
sdc_status sdc_vae_level_load(sdc_vae_level *l, const sdc_layer_source *src, const char *prefix,
                              int c_in, sdc_vae_resample kind);
void sdc_vae_level_free(sdc_vae_level *l);

/* Spatial size after the level for an input of H x W (unchanged without a sampler). 0 when
 * the input is too small to down-sample. */
int sdc_vae_level_out_size(const sdc_vae_level *l, int *H, int *W);

/* Floats the level's buffer needs for a batch of B inputs of H x W: its largest
 * activation. */
size_t sdc_vae_level_max_floats(const sdc_vae_level *l, int B, int H, int W);

/* x [B, c_in, H, W] -> x [B, c_out, H', W'] in place (H, W updated); the resnets and the
 * sampler take arena above x's buffer as they go. */
sdc_status sdc_vae_level_forward(const sdc_vae_level *l, const sdc_vae_pass *p, float *x, int *H,
                                 int *W);

#endif
