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
#include "weights/layer_table.h"

typedef struct sdc_unet sdc_unet;

/* Builds the UNet from `ck`. Weight matrices stay views of the checkpoint's mapping (see
 * ops/weight.h): close the checkpoint only after sdc_unet_free. */
sdc_status sdc_unet_load(const sdc_checkpoint *ck, sdc_unet **out);
/* Only the encoder half (time_embed, label_emb, input_blocks, middle_block): a ControlNet's
 * copy of the UNet, run by sdc_unet_encode; sdc_unet_forward is for whole UNets. */
sdc_status sdc_unet_load_encoder(const sdc_checkpoint *ck, sdc_unet **out);
void sdc_unet_free(sdc_unet *u);
/* Frees the activation memory of the last pass (it goes back to ops/pages.c's kept memory,
 * for the next stage to reuse); the next pass takes it again. */
void sdc_unet_free_activations(sdc_unet *u);

/* What conditions one UNet call besides the latent and the timestep: the conditioning seam
 * every model family plugs into. Only the context is required (for UNets with attention). */
typedef struct sdc_unet_cond {
    const float *context; /* [B, T, context_dim] cross-attention context, a row per batch entry */
    int tokens;           /* T = 77 * k */
    /* label_emb input, or NULL: SDXL's vector [B, sdc_unet_label_dim] (pooled text and the
     * size / crop embedding), or a class-table UNet's class index per row [B] (the x4
     * upscaler's noise level) as floats. Required exactly when the UNet has label_emb. */
    const float *label;
    /* Input channels after the latent's, or NULL: [B, extra_channels, h, w] (inpainting:
     * mask + masked-image latent; depth map; low-res image). x then holds in_channels -
     * extra_channels channels; without them x holds all in_channels. */
    const float *extra;
    int extra_channels;
    /* ControlNet: [sdc_unet_skip_count + 1] residuals or NULL; entry i [B, C_i, h_i, w_i] is
     * added to skip tensor i after the encoder (before the decoder reads any), the last one
     * to the middle block's output. Entries may be NULL. */
    const float *const *residuals;
} sdc_unet_cond;

/* out [B, out_channels, h, w] = unet(x [B, C, h, w], t, cond). t is the (possibly
 * fractional) training timestep shared by the batch. The first call at a new size grows the
 * arena; later calls of at most that size allocate nothing. */
sdc_status sdc_unet_forward(sdc_unet *u, const float *x, int B, int h, int w, float t,
                            const sdc_unet_cond *cond, float *out);

/* The encoder half of a forward (ControlNet): skips[i] = skip tensor i [B, C_i, h_i, w_i]
 * (sdc_unet_skip_shape) and *mid = the middle block's output [B, sdc_unet_mid_channels,
 * h_last, w_last], all in the model's arena until its next forward. h0_add (or NULL)
 * [B, C_0, h, w] is added to conv_in's output before any block reads it (the hint). */
sdc_status sdc_unet_encode(sdc_unet *u, const float *x, int B, int h, int w, float t,
                           const sdc_unet_cond *cond, const float *h0_add, const float **skips,
                           const float **mid);
int sdc_unet_mid_channels(const sdc_unet *u);

/* Most residuals any UNet takes: 64 input blocks, conv_in and the middle block. */
#define SDC_UNET_MAX_RESIDUALS 66

/* Skip tensors of a pass (conv_in's output, then every input block's): the ControlNet
 * residuals' count is this plus one. Channels and size of skip i for an h x w latent. */
int sdc_unet_skip_count(const sdc_unet *u);
void sdc_unet_skip_shape(const sdc_unet *u, int i, int h, int w, int *c, int *sh, int *sw);

/* Enables FreeU with `params` for later forwards; NULL disables it, and so does a zero
 * factor (as in diffusers, whose up blocks require all four to be non-zero). */
void sdc_unet_set_freeu(sdc_unet *u, const sdc_freeu_params *params);

int sdc_unet_in_channels(const sdc_unet *u);  /* 4, or 9 for inpainting models */
int sdc_unet_out_channels(const sdc_unet *u); /* 4 */
int sdc_unet_context_dim(const sdc_unet *u);  /* 768 SD 1.x, 1024 SD 2.x; 0 without attention */
/* label_emb: the vector width (SDXL's 2816), 1 for a class table, 0 without one. */
int sdc_unet_label_dim(const sdc_unet *u);
/* Every linear / convolution layer by its LDM name ("input_blocks.1.1.proj_in"): where
 * adapters attach. */
sdc_layer_table *sdc_unet_layers(sdc_unet *u);
/* Peak activation memory of the forwards so far, in bytes. */
size_t sdc_unet_arena_peak(const sdc_unet *u);

#endif
