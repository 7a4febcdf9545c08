/* TAESD, the tiny VAE (madebyollin/taesd; taesdxl is the same network with other weights):
 * a stack of plain 3x3 convolutions and residual blocks that works on the UNet's latents
 * directly (no scaling factor, no posterior: encode gives the latent itself).
 *
 *   decode: x = 3 tanh(latent / 3); conv(zc -> C) ReLU; per level Block x n, then (not after
 *           the last level) nearest 2x and conv(C -> C, no bias); conv(C -> 3);
 *           image = 2 out - 1
 *   encode: x = (image + 1) / 2; conv(3 -> C); Block x n0; per further level conv(C -> C,
 *           stride 2, no bias) and Block x n; conv(C -> zc) = the latent
 *   Block(C): ReLU(conv(ReLU(conv(ReLU(conv(x))))) + x)
 * Every conv is 3x3 with padding 1 (bias unless said otherwise); the levels and blocks are
 * read from the file's indices, so taesd, taesdxl and smaller variants load alike.
 *
 * Files (docs/taesd.md): the diffusers layout (keys decoder.layers.N.* and encoder.layers.N.*,
 * both halves in one file) or the original one (bare indices, one half per file: a decoder
 * when "1.weight" takes zc channels, its index being the diffusers one + 1 since index 0 is
 * its clamp; an encoder when "0.weight" takes 3). An original half's other half is the file
 * beside it with "_decoder" and "_encoder" swapped in its name, when it exists.
 *
 * Layout: images [B, 3, H, W] in [-1, 1], latents [B, zc, h, w], NCHW, f32 activations; the
 * weights stay views of the mapped files (F32, F16 or BF16) and run through the ordinary
 * convolution kernels (Winograd / implicit GEMM, in bf16 under SDC_PRECISION_BF16).
 *
 * Thread safety: an sdc_taesd owns its activation arena, so it runs one pass at a time. */
#ifndef SDC_VAE_TAESD_H
#define SDC_VAE_TAESD_H

#include <stddef.h>

#include "sdc.h"

typedef struct sdc_taesd sdc_taesd;

/* Maps and validates `path` (key set, shapes, dtypes; errors name the file) and, for an
 * original half, the other half beside it when present. A folder stands for its
 * diffusion_pytorch_model[.fp16].safetensors, else for its one *_decoder.safetensors. */
sdc_status sdc_taesd_load(const char *path, sdc_taesd **out);
void sdc_taesd_free(sdc_taesd *t);
/* Frees the activation memory of the last pass (it goes back to ops/pages.c's kept memory,
 * for the next stage to reuse); the next pass takes it again. */
void sdc_taesd_free_activations(sdc_taesd *t);

/* The file each half came from, NULL when the TAESD has no such half. */
const char *sdc_taesd_decoder_path(const sdc_taesd *t);
const char *sdc_taesd_encoder_path(const sdc_taesd *t);
/* Latent channels (4 for SD 1.x / 2.x / SDXL TAESDs). */
int sdc_taesd_latent_channels(const sdc_taesd *t);

/* image [B, 3, 8h, 8w] in about [-1, 1] (unclamped) = decode(latent [B, zc, h, w]), the
 * latent in the UNet's scale. SDC_ERR_UNSUPPORTED without a decoder. This is also the
 * function live previews decode a step's latent with. */
sdc_status sdc_taesd_decode(sdc_taesd *t, const float *latent, int B, int h, int w,
                            float *image);
/* latent [B, zc, h, w] = encode(image [B, 3, H, W] in [-1, 1]), h and w from
 * sdc_taesd_latent_size. SDC_ERR_UNSUPPORTED without an encoder. */
sdc_status sdc_taesd_encode(sdc_taesd *t, const float *image, int B, int H, int W,
                            float *latent);
/* The encoder's latent size for an H x W image: ceil(H / 8) x ceil(W / 8) (three stride-2
 * convolutions, each rounding up). */
void sdc_taesd_latent_size(int H, int W, int *h, int *w);

/* Peak activation memory of the passes so far, in bytes. */
size_t sdc_taesd_arena_peak(const sdc_taesd *t);
/* Multiply-adds x 2 of one decode of an h x w latent (bench/). */
double sdc_taesd_decode_flops(const sdc_taesd *t, int h, int w);

#endif
