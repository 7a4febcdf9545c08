/* Inpainting masks: any image file becomes an 8-bit mask (255 = repaint, 0 = keep) of the
 * init image's size. Gray/RGB files use their luma; files with an alpha channel that is not
 * fully opaque use the alpha (painted = repaint). */
#ifndef SDC_IMAGE_MASK_H
#define SDC_IMAGE_MASK_H

#include "image/image.h"

/* Loads `path`, inverts it when asked, resizes it to width x height (nearest neighbour, so
 * hard masks stay hard) and feathers the edge with a Gaussian of sigma `blur` pixels
 * (AUTOMATIC1111's mask blur; 0 = none). */
sdc_status sdc_mask_load(const char *path, int invert, float blur, int width, int height,
                         sdc_image *mask);

/* Separable Gaussian blur of a 1-channel image in place (kernel radius 2.5 sigma). */
sdc_status sdc_mask_blur(sdc_image *mask, float sigma);

#endif
