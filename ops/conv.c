#include <string.h>

#include "ops/gemm.h"
#include "ops/nn.h"

/* Pixels per im2col tile: bounds the scratch to Cin * k * k * TILE floats however large the
 * image (a 512x512 VAE layer would otherwise need over a gigabyte). */
enum { CONV_TILE = 4096 };

/* col[(ci * k + ky) * k + kx][p - p0] for output pixels p in [p0, p0 + np). */
static void im2col_tile(float *col, const float *x, int Cin, int H, int W, int k, int stride,
                        int pad, int Wo, int p0, int np)
{
#pragma omp parallel for schedule(static)
    for (int r = 0; r < Cin * k * k; r++) {
        int ci = r / (k * k), ky = (r / k) % k, kx = r % k;
        const float *xc = x + (size_t)ci * H * W;
        float *dst = col + (size_t)r * np;
        for (int p = 0; p < np; p++) {
            int oy = (p0 + p) / Wo, ox = (p0 + p) % Wo;
            int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
            dst[p] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? xc[(size_t)iy * W + ix] : 0.0f;
        }
    }
}

static void fill_channels(float *y, const float *value, int C, int P)
{
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++)
        for (int p = 0; p < P; p++)
            y[(size_t)c * P + p] = value[c];
}

int sdc_conv2d(float *y, const float *x, int B, int Cin, int H, int W, const sdc_weight *w,
               const float *bias, int k, int stride, int pad, sdc_arena *scratch)
{
    int Cout = w->rows, K = Cin * k * k;
    int Ho = sdc_conv_out_size(H, k, stride, pad), Wo = sdc_conv_out_size(W, k, stride, pad);
    int P = Ho * Wo;
    int direct = k == 1 && stride == 1 && pad == 0; /* a 1x1 conv reads x as it is */
    size_t mark = sdc_arena_mark(scratch);
    float *col = NULL;
    if (!direct) {
        col = sdc_arena_floats(scratch, (size_t)K * (P < CONV_TILE ? P : CONV_TILE));
        if (!col)
            return -1;
    }
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * Cin * H * W;
        float *yb = y + (size_t)b * Cout * P;
        if (bias)
            fill_channels(yb, bias, Cout, P);
        for (int p0 = 0; p0 < P; p0 += CONV_TILE) {
            int np = P - p0 < CONV_TILE ? P - p0 : CONV_TILE;
            const float *src = xb + p0;
            int ld = P;
            if (!direct) {
                im2col_tile(col, xb, Cin, H, W, k, stride, pad, Wo, p0, np);
                src = col;
                ld = np;
            }
            /* yb[Cout, p0:p0+np] (+)= W[Cout, K] * src[K, np] */
            sdc_sgemm(0, 0, Cout, np, K, 1.0f, w->data, K, src, ld, bias ? 1.0f : 0.0f, yb + p0, P);
        }
    }
    sdc_arena_release(scratch, mark);
    return 0;
}
