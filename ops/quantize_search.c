/* ggml's weighted scale searches (see quantize_search.h). Products and sums are written as
 * ggml-quants.c writes them: (w * x) * l, (w * l) * l, left-to-right accumulation; the
 * integer levels enter as floats. */
#include "ops/quantize_search.h"

#include <math.h>
#include <string.h>

#include "ops/dtype.h"

/* ggml's GROUP_MAX_EPS: a group whose largest magnitude is below it is all zero. */
#define GROUP_EPS 1e-15f

int sdc_qs_nearest(float v)
{
    float f = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

void sdc_qs_put_half(uint8_t *p, float v)
{
    uint16_t h = sdc_f32_to_f16(v);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* --- symmetric levels (make_qx_quants) --- */

/* Sums of w x l and w l l at inverse scale `iscale`. */
static void symmetric_sums(const float *x, const float *w, int n, int nmax, float iscale,
                           float *sumlx, float *suml2)
{
    float lx = 0.0f, l2 = 0.0f;
    for (int i = 0; i < n; i++) {
        float l = (float)clamp_int(sdc_qs_nearest(iscale * x[i]), -nmax, nmax - 1);
        float wx = w[i] * x[i], wl = w[i] * l;
        lx += wx * l;
        l2 += wl * l;
    }
    *sumlx = lx;
    *suml2 = l2;
}

static void symmetric_levels(const float *x, int n, int nmax, float iscale, int8_t *L)
{
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(nmax + clamp_int(sdc_qs_nearest(iscale * x[i]), -nmax, nmax - 1));
}

float sdc_qs_symmetric(const float *x, const float *w, int n, int nmax, int8_t *L)
{
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)-nmax / max, sumlx, suml2;
    symmetric_levels(x, n, nmax, iscale, L);
    symmetric_sums(x, w, n, nmax, iscale, &sumlx, &suml2);
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        iscale = -((float)nmax + 0.1f * (float)is) / max;
        symmetric_sums(x, w, n, nmax, iscale, &sumlx, &suml2);
        float gain = sumlx * sumlx, held = best * suml2;
        if (suml2 > 0.0f && gain > held) {
            symmetric_levels(x, n, nmax, iscale, L);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* --- levels with an offset (make_qkx3_quants) --- */

enum { AFFINE_STEPS = 36, AFFINE_MAX_N = 32 };

/* Weighted squared error of scale * L + min against x. */
static float affine_error(const float *x, const float *w, int n, const uint8_t *L,
                          float scale, float min)
{
    float err = 0.0f;
    for (int i = 0; i < n; i++) {
        float q = scale * (float)L[i], diff = q + min - x[i], d2 = diff * diff;
        err += w[i] * d2;
    }
    return err;
}

/* Levels at inverse scale `iscale` above `min` and their weighted sums. */
static void affine_levels(const float *x, const float *w, int n, int nmax, float iscale,
                          float min, uint8_t *L, float sums[3])
{
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = clamp_int(sdc_qs_nearest(iscale * (x[i] - min)), 0, nmax);
        L[i] = (uint8_t)l;
        float wl = w[i] * (float)l, wl2 = wl * (float)l, wlx = wl * x[i];
        sum_l += wl;
        sum_l2 += wl2;
        sum_xl += wlx;
    }
    sums[0] = sum_l;
    sums[1] = sum_l2;
    sums[2] = sum_xl;
}

float sdc_qs_affine(const float *x, const float *w, int n, int nmax, uint8_t *L, float *the_min)
{
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        min = x[i] < min ? x[i] : min;
        max = x[i] > max ? x[i] : max;
        float wx = w[i] * x[i];
        sum_w += w[i];
        sum_x += wx;
    }
    if (min > 0.0f)
        min = 0.0f;
    if (max <= min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min), scale = 1.0f / iscale;
    float sums[3];
    affine_levels(x, w, n, nmax, iscale, min, L, sums);
    float best = affine_error(x, w, n, L, scale, min);
    for (int is = 0; is <= AFFINE_STEPS; is++) {
        uint8_t Laux[AFFINE_MAX_N];
        iscale = (-0.9f + 0.05f * (float)is + (float)nmax) / (max - min);
        affine_levels(x, w, n, nmax, iscale, min, Laux, sums);
        float sum_l = sums[0], sum_l2 = sums[1], sum_xl = sums[2];
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0.0f))
            continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0.0f) {
            this_min = 0.0f;
            this_scale = sum_xl / sum_l2;
        }
        float err = affine_error(x, w, n, Laux, this_scale, this_min);
        if (err < best) {
            memcpy(L, Laux, (size_t)n);
            best = err;
            scale = this_scale;
            min = this_min;
        }
    }
    *the_min = -min;
    return scale;
}

/* --- scales of scales (make_qp_quants) --- */

/* Weighted squared error of x against scale * min(nmax, round(iscale x)); ggml's first
 * estimate (`first`) neither clamps nor keeps the sign: its level is stored as a byte. */
static float positive_error(const float *x, const float *w, int n, int nmax, float iscale,
                            int first)
{
    float scale = 1.0f / iscale, err = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = sdc_qs_nearest(iscale * x[i]);
        l = first ? (uint8_t)l : l < nmax ? l : nmax;
        float q = scale * (float)l, diff = x[i] - q, wd = w[i] * diff;
        err += wd * diff;
    }
    return err;
}

/* Five rounds moving one level at a time to where it lowers the weighted error. */
static void positive_refine(const float *x, const float *w, int n, int nmax, uint8_t *L,
                            float *sumlx, float *suml2)
{
    for (int itry = 0; itry < 5; itry++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float wx = w[i] * x[i], wl = w[i] * (float)L[i];
            float slx = *sumlx - wx * (float)L[i], sl2 = *suml2 - wl * (float)L[i];
            if (!(slx > 0.0f && sl2 > 0.0f))
                continue;
            float t = x[i] * sl2;
            int nl = sdc_qs_nearest(t / slx);
            nl = nl < nmax ? nl : nmax;
            if (nl == L[i])
                continue;
            float wn = w[i] * (float)nl;
            slx += wx * (float)nl;
            sl2 += wn * (float)nl;
            float a = slx * slx, b = *sumlx * *sumlx;
            if (a * *suml2 > b * sl2) {
                L[i] = (uint8_t)nl;
                *sumlx = slx;
                *suml2 = sl2;
                changed++;
            }
        }
        if (!changed)
            break;
    }
}

float sdc_qs_positive(const float *x, const float *w, int n, int nmax, uint8_t *L)
{
    float max = 0.0f;
    for (int i = 0; i < n; i++)
        max = max > x[i] ? max : x[i];
    if (max < GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)nmax / max;
    float best = positive_error(x, w, n, nmax, iscale, 1);
    for (int is = -4; is <= 4; is++) {
        if (is == 0)
            continue;
        float iscale_is = (0.1f * (float)is + (float)nmax) / max;
        float err = positive_error(x, w, n, nmax, iscale_is, 0);
        if (err < best) {
            best = err;
            iscale = iscale_is;
        }
    }
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = sdc_qs_nearest(iscale * x[i]);
        l = l < nmax ? l : nmax;
        L[i] = (uint8_t)l;
        float wx = w[i] * x[i], wl = w[i] * (float)l;
        sumlx += wx * (float)l;
        suml2 += wl * (float)l;
    }
    positive_refine(x, w, n, nmax, L, &sumlx, &suml2);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}
