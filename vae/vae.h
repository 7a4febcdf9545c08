/* The Stable Diffusion VAE (AutoencoderKL), built from the checkpoint's LDM internal names
 * (encoder.*, decoder.*, quant_conv, post_quant_conv). Structure (channels, levels, resnets
 * per level, latent channels) is read from tensor shapes; every GroupNorm has 32 groups and
 * eps 1e-6. Always float32, whatever the checkpoint's dtype.
 *
 * Layout: images [B, 3, H, W] in [-1, 1] (RGB), latents [B, 4, H/8, W/8], both NCHW.
 * Pipeline latents are scaled: decode divides by the scaling factor, encode's sample
 * multiplies by it (0.18215 SD 1.x / 2.x, 0.13025 SDXL, or the diffusers vae/config.json
 * "scaling_factor").
 *
 * Tiling (--vae-tiling): decode and encode in overlapping latent tiles (default 64 with
 * overlap 16, i.e. 512-pixel tiles) blended linearly across the overlaps (vae/tile_plan.h),
 * so memory stays bounded by the tile size however large the image. Tiles see only their
 * own pixels (GroupNorm statistics and mid-block attention included), so results differ from
 * an untiled pass, the less the larger the tiles are against the decoder's reach (an output
 * pixel depends on latent cells up to about 17 cells away).
 *
 * Thread safety: an sdc_vae owns its activation arena, so it runs one decode / encode at a
 * time; its kernels use OpenMP inside. Different sdc_vae objects may run concurrently. */
#ifndef SDC_VAE_VAE_H
#define SDC_VAE_VAE_H

#include <stddef.h>
#include <stdint.h>

#include "weights/checkpoint.h"
#include "weights/layer_table.h"

typedef struct sdc_vae sdc_vae;

/* Builds the VAE from `ck`. Weight matrices stay views of the checkpoint's mapping (see
 * ops/weight.h): close the checkpoint only after sdc_vae_free. The encoder is optional:
 * without encoder.* tensors only decoding works. */
sdc_status sdc_vae_load(const sdc_checkpoint *ck, sdc_vae **out);
/* Every convolution by its LDM name without "first_stage_model." ("decoder.up.3.block.2.conv1"). */
sdc_layer_table *sdc_vae_layers(sdc_vae *vae);
void sdc_vae_free(sdc_vae *vae);
/* Frees the activation memory of the last pass (it goes back to ops/pages.c's kept memory,
 * for the next stage to reuse); the next pass takes it again. */
void sdc_vae_free_activations(sdc_vae *vae);

float sdc_vae_scaling_factor(const sdc_vae *vae);
int sdc_vae_latent_channels(const sdc_vae *vae); /* 4 */
int sdc_vae_has_encoder(const sdc_vae *vae);
/* Pixels per latent cell along each axis (8). */
int sdc_vae_downscale(const sdc_vae *vae);

/* Tile size and overlap in latent cells for tiled passes; needs 1 <= overlap and
 * 2 * overlap <= tile. */
sdc_status sdc_vae_set_tiling(sdc_vae *vae, int tile, int overlap);

/* image [B, 3, 8h, 8w] = decoder(post_quant_conv(latent [B, 4, h, w] / scaling_factor)),
 * unclamped. tiled != 0 decodes in overlapping tiles when the latent exceeds one tile. */
sdc_status sdc_vae_decode(sdc_vae *vae, const float *latent, int B, int h, int w, float *image,
                          int tiled);

/* Posterior of image [B, 3, H, W] in [-1, 1]: mean and logvar [B, 4, h, w] (logvar clamped
 * to [-30, 20]), h = H/8, w = W/8 rounded as the encoder's strided convolutions do (see
 * sdc_vae_latent_size). tiled != 0 encodes in overlapping tiles when H and W are multiples of
 * the down-scale factor and the image exceeds one tile. */
sdc_status sdc_vae_encode(sdc_vae *vae, const float *image, int B, int H, int W, float *mean,
                          float *logvar, int tiled);
/* Latent size the encoder produces for an H x W image; SDC_ERR_ARG when too small. */
sdc_status sdc_vae_latent_size(const sdc_vae *vae, int H, int W, int *h, int *w);

/* std [n] = exp(0.5 * logvar). */
void sdc_vae_std(const float *logvar, size_t n, float *std);
/* latent [n] = scaling_factor * (mean + exp(0.5 * logvar) * noise): a posterior sample in
 * pipeline scale (noise: standard normal draws). */
void sdc_vae_sample(const sdc_vae *vae, const float *mean, const float *logvar,
                    const float *noise, size_t n, float *latent);

/* Peak activation memory of the passes so far, in bytes. */
size_t sdc_vae_arena_peak(const sdc_vae *vae);

/* Decoded image [B, 3, H, W] -> B RGB8 pictures [H, W, 3] (one after another):
 * round(clamp(x / 2 + 0.5, 0, 1) * 255) in float32, ties to even (numpy's round). */
void sdc_vae_image_to_rgb8(const float *image, int B, int H, int W, uint8_t *rgb);
/* B RGB8 pictures [H, W, 3] -> image [B, 3, H, W] = 2 * (p / 255) - 1 in float32. */
void sdc_vae_rgb8_to_image(const uint8_t *rgb, int B, int H, int W, float *image);

#endif
