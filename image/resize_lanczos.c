/* Pillow's separable resampling (libImaging/Resample.c) with the Lanczos-3 kernel, written
 * from its documented arithmetic: per axis n -> m, scale = n / m, the kernel widened by
 * max(scale, 1); weights normalised in double, then fixed point with 22 fractional bits;
 * each pass rounds to 8 bits. Horizontal pass first; an axis whose size stays is skipped. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/resize_lanczos.h"
#include "ops/error.h"

#define PRECISION_BITS 22
#define SUPPORT 3.0

typedef struct coeffs {
    int *lo, *count; /* [out] first tap and tap count */
    int32_t *k;      /* [out * max] fixed-point weights */
    int max;
} coeffs;

static double sinc(double x)
{
    if (x == 0.0)
        return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos(double x) { return -SUPPORT <= x && x < SUPPORT ? sinc(x) * sinc(x / 3) : 0; }

static void coeffs_free(coeffs *c)
{
    free(c->lo);
    free(c->count);
    free(c->k);
}

static int coeffs_make(int in, int out, coeffs *c)
{
    double scale = (double)in / out, fs = scale > 1.0 ? scale : 1.0, support = SUPPORT * fs;
    double ss = 1.0 / fs;
    c->max = (int)ceil(support) * 2 + 1;
    c->lo = malloc(sizeof(int) * (size_t)out);
    c->count = malloc(sizeof(int) * (size_t)out);
    c->k = malloc(sizeof(int32_t) * (size_t)out * c->max);
    double *w = malloc(sizeof(double) * (size_t)c->max);
    if (!c->lo || !c->count || !c->k || !w) {
        free(w);
        return 0;
    }
    for (int o = 0; o < out; o++) {
        double center = (o + 0.5) * scale, sum = 0.0;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        lo = lo < 0 ? 0 : lo;
        hi = hi > in ? in : hi;
        int n = hi - lo > c->max ? c->max : hi - lo;
        for (int x = 0; x < n; x++)
            sum += w[x] = lanczos((x + lo - center + 0.5) * ss);
        for (int x = 0; x < n; x++) {
            double v = sum != 0.0 ? w[x] / sum : w[x];
            double f = v * (1 << PRECISION_BITS);
            c->k[(size_t)o * c->max + x] = (int32_t)(v < 0 ? f - 0.5 : f + 0.5);
        }
        c->lo[o] = lo;
        c->count[o] = n;
    }
    free(w);
    return 1;
}

static uint8_t clip8(int64_t v)
{
    v >>= PRECISION_BITS; /* arithmetic: floors negative sums as Pillow's int shift does */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One axis: `lines` lines of `n_in` samples `stride` apart (in units of pixels) become
 * n_out samples; `step` is the distance between lines. Channels interleaved. */
static void pass(const uint8_t *src, uint8_t *dst, int lines, int n_out, int ch,
                 size_t in_line, size_t in_step, size_t out_line, size_t out_step,
                 const coeffs *c)
{
    for (int l = 0; l < lines; l++)
        for (int o = 0; o < n_out; o++)
            for (int k = 0; k < ch; k++) {
                int64_t acc = 1 << (PRECISION_BITS - 1);
                const int32_t *w = c->k + (size_t)o * c->max;
                for (int x = 0; x < c->count[o]; x++)
                    acc += (int64_t)w[x] *
                           src[l * in_line + (size_t)(c->lo[o] + x) * in_step * ch + k];
                dst[l * out_line + (size_t)o * out_step * ch + k] = clip8(acc);
            }
}

static sdc_status nomem(void) { return sdc_fail(SDC_ERR_NOMEM, "out of memory resizing an image"); }

/* dst [h, W, ch] = src [h, w, ch] resampled along x. */
static sdc_status horizontal(const uint8_t *src, int w, int h, int ch, int W, uint8_t **dst)
{
    coeffs c = {0};
    *dst = malloc((size_t)W * h * ch);
    if (!*dst || !coeffs_make(w, W, &c)) {
        coeffs_free(&c);
        return nomem();
    }
    pass(src, *dst, h, W, ch, (size_t)w * ch, 1, (size_t)W * ch, 1, &c);
    coeffs_free(&c);
    return SDC_OK;
}

/* dst [H, w, ch] = src [h, w, ch] resampled along y: columns are the lines. */
static sdc_status vertical(const uint8_t *src, int w, int h, int ch, int H, uint8_t **dst)
{
    coeffs c = {0};
    *dst = malloc((size_t)w * H * ch);
    if (!*dst || !coeffs_make(h, H, &c)) {
        coeffs_free(&c);
        return nomem();
    }
    pass(src, *dst, w, H, ch, (size_t)ch, (size_t)w, (size_t)ch, (size_t)w, &c);
    coeffs_free(&c);
    return SDC_OK;
}

sdc_status sdc_image_resize_lanczos(const sdc_image *src, int width, int height, sdc_image *dst)
{
    *dst = (sdc_image){width, height, src->channels, NULL};
    if (width < 1 || height < 1 || src->width < 1 || src->height < 1)
        return sdc_fail(SDC_ERR_ARG, "cannot resize %dx%d to %dx%d", src->width, src->height,
                        width, height);
    int ch = src->channels;
    uint8_t *mid = NULL;
    sdc_status s = SDC_OK;
    const uint8_t *cur = src->pixels;
    if (width != src->width) {
        s = horizontal(cur, src->width, src->height, ch, width, &mid);
        cur = mid;
    }
    if (s == SDC_OK && height != src->height)
        s = vertical(cur, width, src->height, ch, height, &dst->pixels);
    else if (s == SDC_OK) {
        dst->pixels = malloc((size_t)width * height * ch);
        if (dst->pixels)
            memcpy(dst->pixels, cur, (size_t)width * height * ch);
        else
            s = nomem();
    }
    free(mid);
    if (s != SDC_OK) {
        free(dst->pixels);
        dst->pixels = NULL;
    }
    return s;
}
