#include "vae/band.h"

#include <string.h>

#include "ops/error.h"
#include "ops/nn.h"

/* Rows r0 .. r0 + n - 1 of every plane of y [planes, H, W] = band [planes, n, W]. */
static void put_rows(float *y, const float *band, int planes, int H, int W, int r0, int n)
{
    size_t row = (size_t)W;
#pragma omp parallel for schedule(static)
    for (int q = 0; q < planes; q++)
        memcpy(y + ((size_t)q * H + r0) * row, band + (size_t)q * n * row,
               (size_t)n * row * sizeof *y);
}

/* A layer with adapters (which sdc_conv3x3_rows does not apply) goes through the whole
 * convolution and a copy. */
static sdc_status whole_then_copy(const sdc_layer *l, const sdc_vae_pass *p, float *x, int H,
                                  int W)
{
    size_t mark = sdc_arena_mark(p->arena), n = (size_t)p->B * l->w.rows * H * W;
    float *y = sdc_arena_floats(p->arena, n);
    if (!y)
        return sdc_vae_nomem(p, mark, "convolution");
    sdc_status s = sdc_vae_conv(l, p, y, x, H, W, 1, 1);
    if (s == SDC_OK)
        memcpy(x, y, n * sizeof *x);
    sdc_arena_release(p->arena, mark);
    return s;
}

sdc_status sdc_vae_conv_in_place(const sdc_layer *l, const sdc_vae_pass *p, float *x, int H,
                                 int W)
{
    return sdc_vae_conv_in_place_rows(l, p, x, H, W,
                                      sdc_conv3x3_band_rows(p->B, l->in, l->w.rows, H, W));
}

sdc_status sdc_vae_conv_in_place_rows(const sdc_layer *l, const sdc_vae_pass *p, float *x, int H,
                                      int W, int R)
{
    if (l->adapters)
        return whole_then_copy(l, p, x, H, W);
    int B = p->B, C = l->in, K = l->w.rows;
    size_t mark = sdc_arena_mark(p->arena), band = (size_t)B * K * R * W;
    float *out[2] = {sdc_arena_floats(p->arena, band), NULL};
    out[1] = R < H ? sdc_arena_floats(p->arena, band) : out[0];
    if (!out[0] || !out[1])
        return sdc_vae_nomem(p, mark, "convolution bands");
    /* A band's output is written back only after the next band is computed: by then every
     * plane's rows it lands on (plane q of [B, K, H, W] and of [B, C, H, W] share rows) have
     * been read for the last time, halo included. */
    sdc_conv_window done = {0};
    float *pending = NULL;
    for (int r0 = 0, i = 0; r0 < H; r0 += R, i++) {
        sdc_conv_window win = {H, 0, H, r0, H - r0 < R ? H - r0 : R};
        if (sdc_conv3x3_rows(out[i & 1], x, B, C, W, &win, &l->w, l->bias, p->arena)) {
            sdc_arena_release(p->arena, mark);
            return sdc_fail(SDC_ERR_NOMEM, "vae: out of memory for convolution scratch");
        }
        if (pending)
            put_rows(x, pending, B * K, H, W, done.row0, done.rows);
        pending = out[i & 1];
        done = win;
    }
    put_rows(x, pending, B * K, H, W, done.row0, done.rows);
    sdc_arena_release(p->arena, mark);
    return SDC_OK;
}

/* u [planes, n, 2w] = rows lo .. lo + n - 1 of the nearest 2x upsample of x [planes, h, w]. */
static void upsample_rows(float *u, const float *x, int planes, int h, int w, int lo, int n)
{
    size_t W = 2 * (size_t)w;
#pragma omp parallel for schedule(static)
    for (int q = 0; q < planes; q++)
        for (int r = 0; r < n; r++) {
            const float *src = x + ((size_t)q * h + (lo + r) / 2) * w;
            float *dst = u + ((size_t)q * n + r) * W;
            for (int j = 0; j < w; j++)
                dst[2 * j] = dst[2 * j + 1] = src[j];
        }
}

sdc_status sdc_vae_conv_upsampled(const sdc_layer *l, const sdc_vae_pass *p, float *y,
                                  const float *x, int h, int w)
{
    return sdc_vae_conv_upsampled_rows(l, p, y, x, h, w,
                                       sdc_conv3x3_band_rows(p->B, l->in, l->w.rows, 2 * h,
                                                             2 * w));
}

sdc_status sdc_vae_conv_upsampled_rows(const sdc_layer *l, const sdc_vae_pass *p, float *y,
                                       const float *x, int h, int w, int R)
{
    int B = p->B, C = l->in, K = l->w.rows, H = 2 * h, W = 2 * w;
    size_t mark = sdc_arena_mark(p->arena);
    if (l->adapters) { // whole, as whole_then_copy
        float *u = sdc_arena_floats(p->arena, (size_t)B * C * H * W);
        if (!u)
            return sdc_vae_nomem(p, mark, "upsample");
        sdc_upsample_nearest(u, x, B, C, h, w, H, W);
        sdc_status s = sdc_vae_conv(l, p, y, u, H, W, 1, 1);
        sdc_arena_release(p->arena, mark);
        return s;
    }
    float *u = sdc_arena_floats(p->arena, (size_t)B * C * (R + 2) * W);
    float *out = sdc_arena_floats(p->arena, (size_t)B * K * R * W);
    if (!u || !out)
        return sdc_vae_nomem(p, mark, "upsample bands");
    for (int r0 = 0; r0 < H; r0 += R) {
        int n = H - r0 < R ? H - r0 : R;
        int lo = r0 > 0 ? r0 - 1 : 0, hi = r0 + n < H ? r0 + n + 1 : H;
        sdc_conv_window win = {H, lo, hi - lo, r0, n};
        upsample_rows(u, x, B * C, h, w, lo, hi - lo); // [B, C, hi - lo, W]
        if (sdc_conv3x3_rows(out, u, B, C, W, &win, &l->w, l->bias, p->arena)) {
            sdc_arena_release(p->arena, mark);
            return sdc_fail(SDC_ERR_NOMEM, "vae: out of memory for convolution scratch");
        }
        put_rows(y, out, B * K, H, W, r0, n);
    }
    sdc_arena_release(p->arena, mark);
    return SDC_OK;
}
