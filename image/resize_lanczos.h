/* Pillow's Image.resize(size, Image.LANCZOS) on 8-bit images, bit for bit: what diffusers'
 * ControlNet pipelines do to a control picture of another size than the output. */
#ifndef SDC_IMAGE_RESIZE_LANCZOS_H
#define SDC_IMAGE_RESIZE_LANCZOS_H

#include "image/image.h"

/* dst = src stretched to width x height (aspect ratio not kept); dst->pixels is malloc'd. */
sdc_status sdc_image_resize_lanczos(const sdc_image *src, int width, int height, sdc_image *dst);

#endif
