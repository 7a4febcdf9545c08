#include "image/depth.h"

#include <math.h>
#include <stdlib.h>

#include "image/image_internal.h"
#include "ops/error.h"

/* ITU-R 601 luma of sample i of raw (8 or 16 bit), as a fraction of full scale. */
static float gray_at(const sdc_raw_image *raw, size_t i)
{
    int c = raw->channels, color = c >= 3;
    float full = raw->bits == 16 ? 65535.0f : 255.0f, v[3];
    for (int k = 0; k < 3; k++) {
        size_t at = i * (size_t)c + (color ? (size_t)k : 0);
        v[k] = raw->bits == 16 ? (float)((const uint16_t *)raw->pixels)[at]
                               : (float)raw->pixels[at];
    }
    if (!color)
        return v[0] / full;
    return (v[0] * 0.299f + v[1] * 0.587f + v[2] * 0.114f) / full;
}

sdc_status sdc_depth_map_read(const char *path, float **depth, int *width, int *height)
{
    *depth = NULL;
    sdc_raw_image raw;
    sdc_status s = sdc_image_read_raw(path, &raw, 1);
    if (s != SDC_OK)
        return s;
    size_t n = (size_t)raw.width * raw.height;
    float *d = malloc(n * sizeof *d);
    if (!d) {
        free(raw.pixels);
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory for the depth map", path);
    }
    for (size_t i = 0; i < n; i++)
        d[i] = gray_at(&raw, i);
    free(raw.pixels);
    *depth = d;
    *width = raw.width;
    *height = raw.height;
    return SDC_OK;
}

/* torch's cubic convolution weights (A = -0.75) for the fraction t, taps -1 .. 2 */
static void cubic_weights(float t, float w[4])
{
    const float A = -0.75f;
    float x = t + 1.0f;
    w[0] = ((A * x - 5.0f * A) * x + 8.0f * A) * x - 4.0f * A;
    x = t;
    w[1] = ((A + 2.0f) * x - (A + 3.0f)) * x * x + 1.0f;
    x = 1.0f - t;
    w[2] = ((A + 2.0f) * x - (A + 3.0f)) * x * x + 1.0f;
    x = 2.0f - t;
    w[3] = ((A * x - 5.0f * A) * x + 8.0f * A) * x - 4.0f * A;
}

static int clamp(int i, int n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

/* Source position of output index i (align_corners false): scale (i + 0.5) - 0.5. */
static void source(int i, float scale, int *i0, float *t)
{
    float real = scale * ((float)i + 0.5f) - 0.5f;
    *i0 = (int)floorf(real);
    *t = real - (float)*i0;
}

/* torch upsample_bicubic2d: four rows interpolated along x, then those along y. */
static float bicubic_at(const float *d, int dw, int dh, int y, int x, float sy, float sx)
{
    int y0, x0;
    float ty, tx, wy[4], wx[4], rows[4];
    source(y, sy, &y0, &ty);
    source(x, sx, &x0, &tx);
    cubic_weights(ty, wy);
    cubic_weights(tx, wx);
    for (int r = 0; r < 4; r++) {
        const float *row = d + (size_t)clamp(y0 - 1 + r, dh) * dw;
        rows[r] = row[clamp(x0 - 1, dw)] * wx[0] + row[clamp(x0, dw)] * wx[1] +
                  row[clamp(x0 + 1, dw)] * wx[2] + row[clamp(x0 + 2, dw)] * wx[3];
    }
    return rows[0] * wy[0] + rows[1] * wy[1] + rows[2] * wy[2] + rows[3] * wy[3];
}

void sdc_depth_to_latent(const float *depth, int dw, int dh, int w, int h, float *out)
{
    float sy = (float)dh / (float)h, sx = (float)dw / (float)w;
    float lo = INFINITY, hi = -INFINITY;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = bicubic_at(depth, dw, dh, y, x, sy, sx);
            out[(size_t)y * w + x] = v;
            lo = fminf(lo, v);
            hi = fmaxf(hi, v);
        }
    for (size_t i = 0; i < (size_t)w * h; i++)
        out[i] = hi > lo ? 2.0f * (out[i] - lo) / (hi - lo) - 1.0f : 0.0f;
}
