/* Shared between the image readers and writers. */
#ifndef SDC_IMAGE_INTERNAL_H
#define SDC_IMAGE_INTERNAL_H

#include <stdio.h>

#include "image/image.h"

/* A decoded image before conversion: 1 to 4 channels of 8 bits. */
typedef struct sdc_raw_image {
    int width, height, channels;
    int bits;        /* 8, or 16 (samples in host byte order) */
    uint8_t *pixels;
} sdc_raw_image;

/* keep16: 16-bit PNGs keep their 16-bit samples (depth maps); else everything is 8-bit. */
sdc_status sdc_png_read_raw(const char *path, FILE *f, sdc_raw_image *out, int keep16);
/* The raw pixels of a PNG, JPEG or BMP file (keep16 as above; caller frees raw->pixels). */
sdc_status sdc_image_read_raw(const char *path, sdc_raw_image *raw, int keep16);
sdc_status sdc_png_write_file(FILE *f, const char *path, const sdc_image *img,
                              const char *parameters);
/* Encodes img into f as the type path's extension names (.png, .jpg, .bmp); path is for the
 * messages: a failed write says "PATH: cannot write: " and what the system said. The caller
 * still flushes and closes f (buffered bytes can fail there). */
sdc_status sdc_image_encode(FILE *f, const char *path, const sdc_image *img,
                            const char *params);

/* SDC_OK when `path` is a regular file: a FIFO or device given as an image (-i, --mask,
 * `sdc metadata`) is refused before fopen() blocks on it. */
sdc_status sdc_image_check_input(const char *path);

#endif
