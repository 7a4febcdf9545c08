/* torch's CPU normal sampler (torch 1.13, x86-64), reproduced bit for bit.
 *
 * torch.randn(n) on a float tensor takes one of two paths:
 *  - n >= 16: fill all n slots with 24-bit uniforms, then Box-Muller in blocks of 16
 *    (slots j and j + 8 pair up); when n % 16 != 0 the last 16 slots are refilled with fresh
 *    uniforms and transformed again. torch's AVX2 build evaluates log, sin and cos of that
 *    block with the Cephes-style float polynomials of avx_mathfun.h, so those are
 *    re-implemented here in scalar float arithmetic, operation for operation.
 *  - n < 16: one double-precision Box-Muller per element from two 53-bit uniforms; each
 *    pair yields two values and the generator keeps the unused one for its next call. */
#include <math.h>
#include <string.h>

#include "scheduler/rng.h"

/* 24 random bits -> float in [0, 1). */
static float uniform_f32(sdc_mt19937 *mt)
{
    return (float)(sdc_mt19937_next(mt) & ((1u << 24) - 1)) * (1.0f / (float)(1u << 24));
}

/* 53 random bits (high word first) -> double in [0, 1). */
static double uniform_f64(sdc_mt19937 *mt)
{
    uint64_t hi = sdc_mt19937_next(mt);
    uint64_t lo = sdc_mt19937_next(mt);
    uint64_t bits = ((hi << 32) | lo) & ((UINT64_C(1) << 53) - 1);
    return (double)bits * (1.0 / (double)(UINT64_C(1) << 53));
}

static float bits_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f32_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Natural log of x in (0, 1] (Cephes logf): x = m * 2^e with m in [sqrt(1/2), sqrt(2)).
 * GCC compiled torch's AVX2 kernels with floating-point contraction, so every multiply whose
 * only use is an add became a fused multiply-add; the same operations are fused here. */
static float cephes_logf(float x)
{
    static const float p[9] = {7.0376836292E-2f, -1.1514610310E-1f, 1.1676998740E-1f,
                               -1.2420140846E-1f, +1.4249322787E-1f, -1.6668057665E-1f,
                               +2.0000714765E-1f, -2.4999993993E-1f, +3.3333331174E-1f};
    const float q1 = -2.12194440e-4f, q2 = 0.693359375f;
    if (x < 1.17549435e-38f)
        x = 1.17549435e-38f; /* clamps to the smallest normal; uniforms never get there */
    uint32_t u = f32_to_bits(x);
    float e = (float)((int32_t)(u >> 23) - 0x7f) + 1.0f;
    float m = bits_to_f32((u & ~0x7f800000u) | f32_to_bits(0.5f));
    if (m < 0.707106781186547524f) {
        e -= 1.0f;
        m = (m - 1.0f) + m;
    } else {
        m = m - 1.0f;
    }
    float z = m * m;
    float y = p[0];
    for (int i = 1; i < 9; i++)
        y = fmaf(y, m, p[i]);
    y = y * m;
    y = fmaf(y, z, e * q1);
    y = y - z * 0.5f;
    return fmaf(e, q2, m + y);
}

/* sin and cos of x >= 0 with Cephes' three-part reduction by pi/4. */
static void cephes_sincosf(float x, float *s, float *c)
{
    const float dp1 = -0.78515625f, dp2 = -2.4187564849853515625e-4f,
                dp3 = -3.77489497744594108e-8f;
    float y = x * 1.27323954473516f;
    int32_t j = (int32_t)y;
    j = (j + 1) & ~1;
    y = (float)j;
    int sin_negative = (j & 4) != 0;
    int use_sin_poly = (j & 2) == 0; /* for the sine; the cosine takes the other one */
    int cos_negative = ((~(j - 2)) & 4) != 0;
    x = fmaf(y, dp1, x);
    x = fmaf(y, dp2, x);
    x = fmaf(y, dp3, x);
    float z = x * x;
    float yc = fmaf(2.443315711809948E-005f, z, -1.388731625493765E-003f);
    yc = fmaf(yc, z, 4.166664568298827E-002f);
    yc = yc * z;
    yc = fmaf(yc, z, -(z * 0.5f));
    yc = yc + 1.0f;
    float ys = fmaf(-1.9515295891E-4f, z, 8.3321608736E-3f);
    ys = fmaf(ys, z, -1.6666654611E-1f);
    ys = ys * z;
    ys = fmaf(ys, x, x);
    float sv = use_sin_poly ? ys : yc;
    float cv = use_sin_poly ? yc : ys;
    *s = sin_negative ? -sv : sv;
    *c = cos_negative ? -cv : cv;
}

/* Box-Muller on one block of 16 uniforms, in place. */
static void normal_block16(float *d)
{
    const float two_pi = (float)(2.0f * 3.14159265358979323846);
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - d[j]; /* (0, 1] for the log */
        float radius = sqrtf(-2.0f * cephes_logf(u1));
        float theta = two_pi * d[j + 8];
        float s, c;
        cephes_sincosf(theta, &s, &c);
        d[j] = radius * c;
        d[j + 8] = radius * s;
    }
}

static void randn_blocks(sdc_mt19937 *mt, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = uniform_f32(mt);
    for (size_t i = 0; i + 16 <= n; i += 16)
        normal_block16(out + i);
    if (n % 16 != 0) {
        float *tail = out + n - 16;
        for (int i = 0; i < 16; i++)
            tail[i] = uniform_f32(mt);
        normal_block16(tail);
    }
}

static double normal_f64(sdc_rng *rng)
{
    if (rng->has_cached_normal) {
        rng->has_cached_normal = 0;
        return rng->cached_normal;
    }
    double u1 = uniform_f64(&rng->mt);
    double u2 = uniform_f64(&rng->mt);
    double r = sqrt(-2.0 * log1p(-u2));
    double theta = 2.0 * 3.14159265358979323846 * u1;
    rng->cached_normal = r * sin(theta);
    rng->has_cached_normal = 1;
    return r * cos(theta);
}

void sdc_rng_torch_cpu_randn(sdc_rng *rng, float *out, size_t n)
{
    if (n >= 16) {
        randn_blocks(&rng->mt, out, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (float)normal_f64(rng);
}
