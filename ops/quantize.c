/* ggml's quantisers for the types `sdc convert` writes (see quantize.h). Accumulations and
 * products are written as ggml writes them; sdc builds without FMA contraction. */
#include "ops/quantize.h"

#include <math.h>
#include <string.h>

#include "ops/dtype.h"
#include "ops/quant.h"

enum { QK = 32 };

static void put_half(uint8_t *p, float v)
{
    uint16_t h = sdc_f32_to_f16(v);
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* q8_0: d = amax / 127, q = round(x / d) (half away from zero). */
static void q8_0_row(const float *x, size_t n, uint8_t *dst)
{
    for (size_t b = 0; b < n / QK; b++, x += QK, dst += 34) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        put_half(dst, d);
        for (int j = 0; j < QK; j++)
            dst[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
    }
}

/* ggml's rounding: to nearest, ties to even, through the float mantissa. */
static int nearest_int(float v)
{
    float f = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static int clamp_level(int l, int nmax) { return l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l; }

/* Sums of w x l and w l l over a block at inverse scale `iscale`. */
static void weighted_sums(const float *x, const float *w, int n, int nmax, float iscale,
                          float *sumlx, float *suml2)
{
    float lx = 0.0f, l2 = 0.0f;
    for (int i = 0; i < n; i++) {
        float l = (float)clamp_level(nearest_int(iscale * x[i]), nmax);
        float wx = w[i] * x[i], wl = w[i] * l;
        float a = wx * l, b = wl * l;
        lx += a;
        l2 += b;
    }
    *sumlx = lx;
    *suml2 = l2;
}

static void levels(const float *x, int n, int nmax, float iscale, int8_t *L)
{
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(nmax + clamp_level(nearest_int(iscale * x[i]), nmax));
}

/* ggml's make_qx_quants with importance weights (rmse_type 1): the scale whose levels
 * minimise the weighted error among 19 candidates around nmax / max. */
static float weighted_scale(const float *x, const float *w, int n, int nmax, int8_t *L)
{
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)-nmax / max, sumlx, suml2;
    levels(x, n, nmax, iscale, L);
    weighted_sums(x, w, n, nmax, iscale, &sumlx, &suml2);
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        float step = 0.1f * (float)is;
        iscale = -((float)nmax + step) / max;
        weighted_sums(x, w, n, nmax, iscale, &sumlx, &suml2);
        float gain = sumlx * sumlx, held = best * suml2;
        if (suml2 > 0.0f && gain > held) {
            levels(x, n, nmax, iscale, L);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* q4_0 with all-ones importance: weights sqrt(sigma2 + x^2), sigma2 the row's mean square. */
static void q4_0_row(const float *x, size_t n, uint8_t *dst)
{
    float sum_x2 = 0.0f;
    for (size_t j = 0; j < n; j++) {
        float sq = x[j] * x[j];
        sum_x2 += sq;
    }
    float sigma2 = sum_x2 / (float)n;
    for (size_t b = 0; b < n / QK; b++, x += QK, dst += 18) {
        float w[QK];
        int8_t L[QK];
        for (int j = 0; j < QK; j++) {
            float sq = x[j] * x[j];
            w[j] = 1.0f * sqrtf(sigma2 + sq);
        }
        put_half(dst, weighted_scale(x, w, QK, 8, L));
        for (int j = 0; j < QK / 2; j++)
            dst[2 + j] = (uint8_t)(L[j] | L[j + QK / 2] << 4);
    }
}

int sdc_quantize_supported(uint32_t id) { return id == SDC_QTYPE_Q8_0 || id == SDC_QTYPE_Q4_0; }

int sdc_quantize_row(uint32_t id, const float *x, size_t n, uint8_t *dst)
{
    if (id == SDC_QTYPE_Q8_0)
        q8_0_row(x, n, dst);
    else if (id == SDC_QTYPE_Q4_0)
        q4_0_row(x, n, dst);
    else
        return -1;
    return 0;
}
