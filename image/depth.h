/* Depth maps for the SD 2 depth model: read from a picture (larger = nearer) and brought to
 * the latent grid as diffusers' StableDiffusionDepth2ImgPipeline.prepare_depth_map does with
 * a given map: bicubic resize (torch interpolate, align_corners false) to h x w, then the
 * whole map min-max normalised to [-1, 1]. */
#ifndef SDC_IMAGE_DEPTH_H
#define SDC_IMAGE_DEPTH_H

#include "sdc.h"

/* Reading is public: sdc_depth_map_read (sdc.h); RGB pictures count by their ITU-R 601
 * luma. */

/* out [h, w] = bicubic(depth [dh, dw]) normalised to [-1, 1]; any positive affine change of
 * the depth values gives the same result. A flat map (where diffusers divides by zero and
 * conditions on NaN) gives 0 everywhere: every pixel at one depth. */
void sdc_depth_to_latent(const float *depth, int dw, int dh, int w, int h, float *out);

#endif
