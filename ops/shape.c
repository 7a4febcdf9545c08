#include <string.h>

#include "ops/parallel.h"
#include "ops/profile.h"
#include "ops/nn.h"

static void upsample_nearest_run(float *y, const float *x, int B, int C, int H, int W, int Ho,
                                 int Wo)
{
    /* PyTorch 'nearest': src = min(floor(dst * (in / out)), in - 1), scale in float */
    float sy = (float)H / Ho, sx = (float)W / Wo;
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)B * C * Ho * Wo))
    for (int bc = 0; bc < B * C; bc++) {
        const float *xc = x + (size_t)bc * H * W;
        float *yc = y + (size_t)bc * Ho * Wo;
        for (int oy = 0; oy < Ho; oy++) {
            int iy = (int)((float)oy * sy);
            iy = iy < H ? iy : H - 1;
            for (int ox = 0; ox < Wo; ox++) {
                int ix = (int)((float)ox * sx);
                ix = ix < W ? ix : W - 1;
                yc[(size_t)oy * Wo + ox] = xc[(size_t)iy * W + ix];
            }
        }
    }
}

static void add_run(float *y, const float *a, const float *b, size_t n)
{
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(n))
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

static void add_relu_run(float *y, const float *a, const float *b, size_t n)
{
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(n))
    for (size_t i = 0; i < n; i++) {
        float v = a[i] + b[i];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

static void add_channel_bias_run(float *y, const float *bias, int B, int C, int HW)
{
#pragma omp parallel for schedule(static) collapse(2) if (sdc_parallel_worth((size_t)B * C * HW))
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            float *yc = y + ((size_t)b * C + c) * HW;
            for (int i = 0; i < HW; i++)
                yc[i] += bias[c];
        }
}

static void concat_channels_run(float *y, const float *a, int Ca, const float *b, int Cb, int B,
                                int HW)
{
    for (int n = 0; n < B; n++) {
        memcpy(y + (size_t)n * (Ca + Cb) * HW, a + (size_t)n * Ca * HW, sizeof(float) * Ca * HW);
        memcpy(y + ((size_t)n * (Ca + Cb) + Ca) * HW, b + (size_t)n * Cb * HW,
               sizeof(float) * Cb * HW);
    }
}

static void nchw_to_nhwc_run(float *y, const float *x, int B, int C, int HW)
{
#pragma omp parallel for schedule(static) collapse(2) if (sdc_parallel_worth((size_t)B * C * HW))
    for (int b = 0; b < B; b++)
        for (int p = 0; p < HW; p++)
            for (int c = 0; c < C; c++)
                y[((size_t)b * HW + p) * C + c] = x[((size_t)b * C + c) * HW + p];
}

static void nhwc_to_nchw_run(float *y, const float *x, int B, int C, int HW)
{
#pragma omp parallel for schedule(static) collapse(2) if (sdc_parallel_worth((size_t)B * C * HW))
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < HW; p++)
                y[((size_t)b * C + c) * HW + p] = x[((size_t)b * HW + p) * C + c];
}

void sdc_upsample_nearest(float *y, const float *x, int B, int C, int H, int W, int Ho, int Wo)
{
    sdc_prof_mark m = sdc_profile_begin();
    upsample_nearest_run(y, x, B, C, H, W, Ho, Wo);
    sdc_profile_end(SDC_PROF_MOVE, m);
}

void sdc_add(float *y, const float *a, const float *b, size_t n)
{
    sdc_prof_mark m = sdc_profile_begin();
    add_run(y, a, b, n);
    sdc_profile_end(SDC_PROF_MOVE, m);
}

void sdc_add_relu(float *y, const float *a, const float *b, size_t n)
{
    sdc_prof_mark m = sdc_profile_begin();
    add_relu_run(y, a, b, n);
    sdc_profile_end(SDC_PROF_MOVE, m);
}

void sdc_add_channel_bias(float *y, const float *bias, int B, int C, int HW)
{
    sdc_prof_mark m = sdc_profile_begin();
    add_channel_bias_run(y, bias, B, C, HW);
    sdc_profile_end(SDC_PROF_MOVE, m);
}

void sdc_concat_channels(float *y, const float *a, int Ca, const float *b, int Cb, int B, int HW)
{
    sdc_prof_mark m = sdc_profile_begin();
    concat_channels_run(y, a, Ca, b, Cb, B, HW);
    sdc_profile_end(SDC_PROF_MOVE, m);
}

void sdc_nchw_to_nhwc(float *y, const float *x, int B, int C, int HW)
{
    sdc_prof_mark m = sdc_profile_begin();
    nchw_to_nhwc_run(y, x, B, C, HW);
    sdc_profile_end(SDC_PROF_MOVE, m);
}

void sdc_nhwc_to_nchw(float *y, const float *x, int B, int C, int HW)
{
    sdc_prof_mark m = sdc_profile_begin();
    nhwc_to_nchw_run(y, x, B, C, HW);
    sdc_profile_end(SDC_PROF_MOVE, m);
}
