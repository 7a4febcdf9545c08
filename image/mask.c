#include "image/mask.h"
#include "image/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"

/* One pass of the separable blur along rows (dx = 1) or columns (dx = width). */
static void blur_pass(const float *in, float *out, int w, int h, const float *kernel, int r,
                      int horizontal)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double acc = 0;
            for (int k = -r; k <= r; k++) {
                int xx = horizontal ? x + k : x, yy = horizontal ? y : y + k;
                xx = xx < 0 ? -xx - 1 : xx >= w ? 2 * w - xx - 1 : xx; /* reflect */
                yy = yy < 0 ? -yy - 1 : yy >= h ? 2 * h - yy - 1 : yy;
                xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;
                yy = yy < 0 ? 0 : yy >= h ? h - 1 : yy;
                acc += kernel[k + r] * in[(size_t)yy * w + xx];
            }
            out[(size_t)y * w + x] = (float)acc;
        }
}

sdc_status sdc_mask_blur(sdc_image *mask, float sigma)
{
    int w = mask->width, h = mask->height;
    if (sigma <= 0 || w <= 0 || h <= 0)
        return SDC_OK;
    int r = (int)(2.5f * sigma + 0.5f);
    float *kernel = malloc(sizeof(float) * (2 * r + 1));
    float *a = calloc((size_t)w * h, sizeof(float)), *b = calloc((size_t)w * h, sizeof(float));
    if (!kernel || !a || !b) {
        free(kernel), free(a), free(b);
        return sdc_fail(SDC_ERR_NOMEM, "out of memory blurring the mask");
    }
    double sum = 0;
    for (int k = -r; k <= r; k++)
        sum += kernel[k + r] = expf(-(float)(k * k) / (2 * sigma * sigma));
    for (int k = 0; k <= 2 * r; k++)
        kernel[k] = (float)(kernel[k] / sum);
    for (size_t i = 0; i < (size_t)w * h; i++)
        a[i] = mask->pixels[i];
    blur_pass(a, b, w, h, kernel, r, 1);
    blur_pass(b, a, w, h, kernel, r, 0);
    for (size_t i = 0; i < (size_t)w * h; i++)
        mask->pixels[i] = (uint8_t)lrintf(a[i] < 0 ? 0 : a[i] > 255 ? 255 : a[i]);
    free(kernel), free(a), free(b);
    return SDC_OK;
}

static int alpha_is_used(const sdc_image *alpha)
{
    if (!alpha->pixels)
        return 0;
    for (size_t i = 0; i < (size_t)alpha->width * alpha->height; i++)
        if (alpha->pixels[i] != 255)
            return 1;
    return 0;
}

sdc_status sdc_mask_load(const char *path, int invert, float blur, int width, int height,
                         sdc_image *mask)
{
    sdc_image gray, alpha;
    memset(mask, 0, sizeof *mask);
    sdc_status s = sdc_image_load_gray(path, &gray, &alpha);
    if (s != SDC_OK)
        return s;
    sdc_image *src = alpha_is_used(&alpha) ? &alpha : &gray;
    if (invert)
        for (size_t i = 0; i < (size_t)src->width * src->height; i++)
            src->pixels[i] = (uint8_t)(255 - src->pixels[i]);
    s = sdc_image_resize_nearest(src, width, height, mask);
    sdc_image_free(&gray);
    sdc_image_free(&alpha);
    if (s == SDC_OK)
        s = sdc_mask_blur(mask, blur);
    if (s != SDC_OK) {
        sdc_image_free(mask);
        sdc_error_prefix("%s", path);
    }
    return s;
}
