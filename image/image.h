/* 8-bit RGB images on disk: PNG through libpng (with text chunks for generation metadata),
 * JPEG and BMP through stb. Reading validates sizes before allocating; writing goes to a
 * temporary file in the same directory that is renamed into place only when complete. */
#ifndef SDC_IMAGE_IMAGE_H
#define SDC_IMAGE_IMAGE_H

#include <stdint.h>

#include "sdc.h"

/* Largest width or height accepted when reading (and at most SDC_IMAGE_MAX_PIXELS pixels). */
#define SDC_IMAGE_MAX_SIDE 16384
#define SDC_IMAGE_MAX_PIXELS (64u << 20)

/* The pixel count reads accept: SDC_IMAGE_MAX_PIXELS, unless lowered. The fuzz targets
 * lower it: they explore the parsers, and decoding a picture of the full 64 Mpx under the
 * sanitizers takes longer than their per-input time limit while teaching nothing new. */
uint64_t sdc_image_pixel_limit(void);
void sdc_image_set_pixel_limit(uint64_t pixels);

typedef struct sdc_image {
    int width;
    int height;
    int channels;    /* 3 (RGB) or 1 (gray) */
    uint8_t *pixels; /* [height, width, channels], owned */
} sdc_image;

/* Loads a PNG, JPEG or BMP as 8-bit RGB: alpha composited on white, gray expanded,
 * 16-bit reduced. `alpha` (may be NULL) receives the alpha channel as a 1-channel image when
 * the file has one (else channels == 0, pixels NULL); masks use it. */
sdc_status sdc_image_load(const char *path, sdc_image *rgb, sdc_image *alpha);
/* Loads any image as 8-bit gray (luma of RGB; alpha ignored), for masks. */
sdc_status sdc_image_load_gray(const char *path, sdc_image *gray, sdc_image *alpha);
void sdc_image_free(sdc_image *img);

/* Whether `path` can name an output image: a file name (not '-', not a bare ".png") with
 * one of the extensions sdc_image_write knows. Returns SDC_OK, or SDC_ERR_ARG with a
 * message naming the path. */
sdc_status sdc_image_check_output_name(const char *path);
/* Checks that can be made before rendering for an output `path`: a good name
 * (sdc_image_check_output_name), a parent that is an existing folder (unless
 * `make_parents`), and no existing file unless `overwrite`. SDC_ERR_ARG for the name, else
 * SDC_ERR_IO, with a message. */
sdc_status sdc_image_check_output(const char *path, int overwrite, int make_parents);
/* Writes by extension (.png, .jpg/.jpeg, .bmp). `parameters` (may be NULL) goes into the PNG
 * 'parameters' text chunk (AUTOMATIC1111 convention). Refuses to replace an existing file
 * unless `overwrite`. The file appears complete or not at all. */
sdc_status sdc_image_write(const char *path, const sdc_image *img, const char *parameters,
                           int overwrite);

/* Reads the text chunk `key` of a PNG into *value (malloc'd; NULL when absent). */
sdc_status sdc_png_read_text(const char *path, const char *key, char **value);

#endif
