/* The UNet over overlapping latent windows, for pictures too large for one pass (the x4
 * upscaler's 512x512 latent of a 2048-pixel output). The windows follow the VAE's tile plan
 * (vae/tile_plan.h): equal windows of `tile` cells spread evenly with at least `overlap`
 * cells in common, each window's prediction weighted 1 in its middle and ramping linearly
 * to 0 across the overlaps, the weights summing to 1 everywhere. The spatial inputs (the
 * latent and the extra channels) are cut with the window; the context and labels are the
 * same for every window. A window sees only its own cells, so a tiled prediction differs from
 * an untiled one near the cuts; the x4 upscaler, whose picture is given by its low-res input,
 * tolerates that, a text-to-image pass would not (its composition needs the whole latent). */
#ifndef SDC_PIPELINE_UNET_TILES_H
#define SDC_PIPELINE_UNET_TILES_H

#include "unet/unet.h"

/* out [B, out_channels, h, w] = the UNet of x over windows of tile x tile cells overlapping
 * by `overlap` (tile a multiple of 8, 1 <= overlap, 2 * overlap <= tile); one plain pass when
 * tile <= 0 or the latent fits in one window. ControlNet residuals are refused when tiling. */
sdc_status sdc_pipeline_unet_tiled(sdc_unet *u, const float *x, int B, int h, int w, float t,
                                   const sdc_unet_cond *cond, int tile, int overlap,
                                   float *out);

#endif
