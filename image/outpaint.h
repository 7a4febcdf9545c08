/* Outpainting: a bigger canvas around a picture, with a mask that repaints the new border. */
#ifndef SDC_IMAGE_OUTPAINT_H
#define SDC_IMAGE_OUTPAINT_H

#include <stdint.h>

#include "image/image.h"

typedef enum sdc_outpaint_fill {
    SDC_OUTPAINT_EDGE,  /* border pixels repeat the nearest edge pixel */
    SDC_OUTPAINT_NOISE, /* border pixels are uniform noise (seeded) */
} sdc_outpaint_fill;

/* canvas = init padded by left/top/right/bottom pixels (each 0..4096), filled as asked;
 * mask (gray, same size) = 255 on the border, else the init's `mask` (NULL: 0 = keep).
 * Both malloc'd; `seed` drives the noise fill. */
sdc_status sdc_outpaint_canvas(const sdc_image *init, const sdc_image *mask, const int pad[4],
                               sdc_outpaint_fill fill, uint64_t seed, sdc_image *canvas,
                               sdc_image *canvas_mask);

#endif
