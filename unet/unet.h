/* The Stable Diffusion UNet (SD 1.x / 2.x UNet2DConditionModel equivalent), built from the
 * checkpoint's LDM internal names (input_blocks.*, middle_block.*, output_blocks.*,
 * time_embed.*, out.*). Everything structural is read from tensor shapes: input channels
 * (4, or 9 for inpainting), channel widths, levels, where the transformers are, their depth
 * and the cross-attention context width. Heads follow the family rule: SD 1.x 8 heads at every
 * level, SD 2.x head size 64 (family from sdc_checkpoint_family; when unknown, from the
 * transformers' proj_in: a 1x1 conv in SD 1.x, a linear map in SD 2.x).
 *
 * Layout: latents NCHW [B, C, h, w] (any h, w >= 1: odd down-sampled sizes are up-sampled back
 * to the skip tensor's size), context [B, T, context_dim] with its own row per batch entry
 * (classifier-free guidance batches [uncond, cond]) and T = 77 * k tokens (long prompts).
 *
 * Thread safety: a model owns its activation arena and FreeU plans, so one sdc_unet runs one
 * forward at a time; its kernels use OpenMP inside. Different sdc_unet objects may run
 * concurrently, except that FreeU makes FFTW plans on its first pass at a new size and the
 * FFTW planner is process-global (see unet/freeu.h). */
#ifndef SDC_UNET_UNET_H
#define SDC_UNET_UNET_H

#include <stddef.h>

#include "unet/freeu.h"
#include "weights/checkpoint.h"

typedef struct sdc_unet sdc_unet;

/* Builds the UNet from `ck`. Weight matrices stay views of the checkpoint's mapping (see
 * ops/weight.h): close the checkpoint only after sdc_unet_free. */
sdc_status sdc_unet_load(const sdc_checkpoint *ck, sdc_unet **out);
void sdc_unet_free(sdc_unet *u);

/* out [B, out_channels, h, w] = unet(x [B, in_channels, h, w], t, context [B, T, D]).
 * t is the (possibly fractional) training timestep shared by the batch. The first call at a
 * new size grows the arena; later calls of at most that size allocate nothing. */
sdc_status sdc_unet_forward(sdc_unet *u, const float *x, int B, int h, int w, float t,
                            const float *context, int T, float *out);

/* Enables FreeU with `params` for later forwards; NULL disables it, and so does a zero
 * factor (as in diffusers, whose up blocks require all four to be non-zero). */
void sdc_unet_set_freeu(sdc_unet *u, const sdc_freeu_params *params);

int sdc_unet_in_channels(const sdc_unet *u);  /* 4, or 9 for inpainting models */
int sdc_unet_out_channels(const sdc_unet *u); /* 4 */
int sdc_unet_context_dim(const sdc_unet *u);  /* 768 SD 1.x, 1024 SD 2.x; 0 without attention */
/* Peak activation memory of the forwards so far, in bytes. */
size_t sdc_unet_arena_peak(const sdc_unet *u);

#endif
