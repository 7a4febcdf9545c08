/* Resampling of RGB8 / gray8 images with a filter that widens with the down-scale factor,
 * as PIL's Image.resize does, so shrinking averages every source pixel instead of aliasing:
 * the triangle (BILINEAR) or Lanczos-3 (LANCZOS: sinc(x) sinc(x / 3), |x| < 3). Separable:
 * rows first, then columns, in float. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/resize.h"
#include "ops/error.h"

typedef struct taps {
    int *first;     /* [out] first source index */
    int *count;     /* [out] number of taps */
    float *weights; /* [out * max_taps] normalised */
    int max_taps;
} taps;

static void taps_free(taps *t)
{
    free(t->first);
    free(t->count);
    free(t->weights);
}

typedef struct filter {
    double support;            /* radius at scale 1 */
    double (*weight)(double x); /* at distance x (in output pixels' units) */
} filter;

static double triangle(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double sinc(double x)
{
    if (x == 0.0)
        return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos3(double x) { return fabs(x) < 3.0 ? sinc(x) * sinc(x / 3.0) : 0.0; }

static const filter BILINEAR = {1.0, triangle}, LANCZOS = {3.0, lanczos3};

static int taps_make(int in, int out, const filter *f, taps *t)
{
    double scale = (double)in / out;
    double stretch = scale > 1.0 ? scale : 1.0;
    double support = f->support * stretch; /* filter radius in source pixels */
    t->max_taps = (int)ceil(support) * 2 + 1;
    t->first = malloc(sizeof(int) * (size_t)out);
    t->count = malloc(sizeof(int) * (size_t)out);
    t->weights = malloc(sizeof(float) * (size_t)out * (size_t)t->max_taps);
    if (!t->first || !t->count || !t->weights)
        return 0;
    for (int o = 0; o < out; o++) {
        double centre = (o + 0.5) * scale;
        int lo = (int)floor(centre - support), hi = (int)ceil(centre + support);
        lo = lo < 0 ? 0 : lo;
        hi = hi > in ? in : hi;
        double sum = 0;
        float *w = t->weights + (size_t)o * t->max_taps;
        int n = 0;
        for (int i = lo; i < hi && n < t->max_taps; i++, n++) {
            w[n] = (float)f->weight((i + 0.5 - centre) / stretch);
            sum += w[n];
        }
        for (int k = 0; k < n; k++)
            w[k] = sum > 0 ? (float)(w[k] / sum) : 1.0f / n;
        t->first[o] = lo;
        t->count[o] = n;
    }
    return 1;
}

static uint8_t to_u8(float v)
{
    v = v < 0 ? 0 : v > 255 ? 255 : v;
    return (uint8_t)lrintf(v);
}

static sdc_status resize(const sdc_image *src, int width, int height, const filter *f,
                         sdc_image *dst)
{
    dst->pixels = NULL;
    if (width <= 0 || height <= 0 || src->width <= 0 || src->height <= 0)
        return sdc_fail(SDC_ERR_ARG, "cannot resize a %dx%d image to %dx%d", src->width,
                        src->height, width, height);
    int C = src->channels;
    taps tx = {0}, ty = {0};
    float *rows = malloc(sizeof(float) * (size_t)src->height * (size_t)width * (size_t)C);
    dst->pixels = malloc((size_t)width * (size_t)height * (size_t)C);
    if (!rows || !dst->pixels || !taps_make(src->width, width, f, &tx) ||
        !taps_make(src->height, height, f, &ty)) {
        free(rows);
        free(dst->pixels);
        dst->pixels = NULL;
        taps_free(&tx);
        taps_free(&ty);
        return sdc_fail(SDC_ERR_NOMEM, "out of memory resizing a %dx%d image", src->width,
                        src->height);
    }
    for (int y = 0; y < src->height; y++)
        for (int x = 0; x < width; x++)
            for (int c = 0; c < C; c++) {
                const float *w = tx.weights + (size_t)x * tx.max_taps;
                const uint8_t *p = src->pixels + ((size_t)y * src->width + tx.first[x]) * C + c;
                float acc = 0;
                for (int k = 0; k < tx.count[x]; k++)
                    acc += w[k] * p[(size_t)k * C];
                rows[((size_t)y * width + x) * C + c] = acc;
            }
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            for (int c = 0; c < C; c++) {
                const float *w = ty.weights + (size_t)y * ty.max_taps;
                float acc = 0;
                for (int k = 0; k < ty.count[y]; k++)
                    acc += w[k] * rows[((size_t)(ty.first[y] + k) * width + x) * C + c];
                dst->pixels[((size_t)y * width + x) * C + c] = to_u8(acc);
            }
    dst->width = width;
    dst->height = height;
    dst->channels = C;
    free(rows);
    taps_free(&tx);
    taps_free(&ty);
    return SDC_OK;
}

sdc_status sdc_image_resize(const sdc_image *src, int width, int height, sdc_image *dst)
{
    return resize(src, width, height, &BILINEAR, dst);
}

sdc_status sdc_image_resize_lanczos(const sdc_image *src, int width, int height,
                                    sdc_image *dst)
{
    return resize(src, width, height, &LANCZOS, dst);
}

sdc_status sdc_image_resize_nearest(const sdc_image *src, int width, int height, sdc_image *dst)
{
    int ch = src->channels;
    dst->pixels = malloc((size_t)width * height * ch);
    if (!dst->pixels)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory resizing an image");
    dst->width = width;
    dst->height = height;
    dst->channels = ch;
    for (int y = 0; y < height; y++) {
        int sy = (int)((int64_t)y * src->height / height);
        for (int x = 0; x < width; x++) {
            int sx = (int)((int64_t)x * src->width / width);
            memcpy(dst->pixels + ((size_t)y * width + x) * ch,
                   src->pixels + ((size_t)sy * src->width + sx) * ch, (size_t)ch);
        }
    }
    return SDC_OK;
}
