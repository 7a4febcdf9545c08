/* Smooth resampling of 8-bit images (init images for img2img at another size). */
#ifndef SDC_IMAGE_RESIZE_H
#define SDC_IMAGE_RESIZE_H

#include "image/image.h"

/* dst = src resampled to width x height with a bilinear (triangle) filter, widened by the
 * scale factor when shrinking (PIL's BILINEAR). dst->pixels is malloc'd. */
sdc_status sdc_image_resize(const sdc_image *src, int width, int height, sdc_image *dst);

/* The same with PIL's LANCZOS filter (Lanczos-3; hires fix's "Lanczos" upscaler). */
sdc_status sdc_image_resize_lanczos(const sdc_image *src, int width, int height,
                                    sdc_image *dst);

/* Nearest-neighbour resize of a 1- or 3-channel image (hard masks stay hard). */
sdc_status sdc_image_resize_nearest(const sdc_image *src, int width, int height, sdc_image *dst);

#endif
