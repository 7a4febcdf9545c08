/* Timestep conditioning: the sinusoidal embedding of t (diffusers Timesteps with
 * flip_sin_to_cos = true, freq_shift = 0) followed by the time MLP (LDM time_embed:
 * linear, SiLU, linear). t is a float and may be fractional. */
#ifndef SDC_UNET_TIMESTEP_H
#define SDC_UNET_TIMESTEP_H

#include "unet/load.h"

typedef struct sdc_unet_time_embed {
    int freq_dim;          /* sinusoid width (the UNet's base channel count) */
    int dim;               /* embedding width (4x the base channels in SD) */
    sdc_layer linear1; /* [dim, freq_dim]   time_embed.0 */
    sdc_layer linear2; /* [dim, dim]        time_embed.2 */
} sdc_unet_time_embed;

sdc_status sdc_unet_time_embed_load(sdc_unet_time_embed *te, const sdc_layer_source *src);
void sdc_unet_time_embed_free(sdc_unet_time_embed *te);

/* emb[n] = [cos(t f_0), ..., cos(t f_{h-1}), sin(t f_0), ..., sin(t f_{h-1})] (zero-padded when
 * n is odd) with h = n / 2 and f_i = exp(-ln(10000) i / h), in float32 as torch computes it. */
void sdc_unet_timestep_sinusoid(float *emb, int n, float t);

/* SDXL's size conditioning: emb [n_ids * D] = the sinusoid of each id (D channels each,
 * as sdc_unet_timestep_sinusoid), in order. The ids are [original_h, original_w, crop_top,
 * crop_left, target_h, target_w] (base) and D is the model's addition_time_embed_dim. */
void sdc_unet_time_ids_embed(float *emb, const float *ids, int n_ids, int D);

/* out [te->dim] = linear2(SiLU(linear1(sinusoid(t)))); scratch holds freq_dim + dim floats.
 * Returns 0, or -1 when an adapter's scratch (from arena) ran out. */
int sdc_unet_time_embed_forward(const sdc_unet_time_embed *te, float t, float *out,
                                float *scratch, sdc_arena *arena);

#endif
