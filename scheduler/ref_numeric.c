/* numpy and torch numerics as the schedules use them; see ref_numeric.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "scheduler/ref_numeric.h"

/* torch's CPU linspace kernel fills 2 vectors of this many floats per iteration (AVX2),
 * each vector as base + k * step; torch was built with FMA contraction, so k * step + base
 * is one fused operation, as is the scalar tail's start + idx * step. */
#define TORCH_VEC_F32 8
#define TORCH_VEC_F64 4

/* Element idx of the scalar path: counted up from start in the first half, down from end
 * in the second (idx < n / 2 decides, also for the base of a vector). */
static float linspace_f32_at(float start, float end, float step, size_t n, size_t idx)
{
    if (idx < n / 2)
        return fmaf(step, (float)idx, start);
    return fmaf(-step, (float)(n - idx - 1), end);
}

static double linspace_f64_at(double start, double end, double step, size_t n, size_t idx)
{
    if (idx < n / 2)
        return fma(step, (double)idx, start);
    return fma(-step, (double)(n - idx - 1), end);
}

/* First index past the vectorized loop, which covers whole pairs of vectors. */
static size_t vector_end(size_t n, size_t width)
{
    return n / (2 * width) * (2 * width);
}

/* Inside the vectorized part each vector is base + k * step, base being the scalar value at
 * the vector's first index. */
float sdc_torch_linspace_f32_at(float start, float end, size_t n, size_t idx)
{
    if (n == 1)
        return start;
    float step = (end - start) / (float)(n - 1);
    if (idx >= vector_end(n, TORCH_VEC_F32))
        return linspace_f32_at(start, end, step, n, idx);
    size_t first = idx - idx % TORCH_VEC_F32;
    return fmaf((float)(idx - first), step, linspace_f32_at(start, end, step, n, first));
}

double sdc_torch_linspace_f64_at(double start, double end, size_t n, size_t idx)
{
    if (n == 1)
        return start;
    double step = (end - start) / (double)(n - 1);
    if (idx >= vector_end(n, TORCH_VEC_F64))
        return linspace_f64_at(start, end, step, n, idx);
    size_t first = idx - idx % TORCH_VEC_F64;
    return fma((double)(idx - first), step, linspace_f64_at(start, end, step, n, first));
}

void sdc_torch_linspace_f32(float start, float end, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sdc_torch_linspace_f32_at(start, end, n, i);
}

double sdc_np_linspace_at(double start, double stop, size_t n, int endpoint, size_t i)
{
    size_t div = endpoint ? n - 1 : n;
    if (endpoint && n > 1 && i == n - 1)
        return stop;
    if (div == 0)
        return start;
    double step = (stop - start) / (double)div;
    return (double)i * step + start;
}

void sdc_np_linspace(double start, double stop, size_t n, int endpoint, double *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sdc_np_linspace_at(start, stop, n, endpoint, i);
}

size_t sdc_np_arange_len(double start, double stop, double step)
{
    double len = ceil((stop - start) / step);
    return len > 0 ? (size_t)len : 0;
}

/* numpy writes start and start + step, then fills the rest from their difference. */
void sdc_np_arange(double start, double stop, double step, double *out)
{
    size_t n = sdc_np_arange_len(start, stop, step);
    if (n == 0)
        return;
    out[0] = start;
    if (n == 1)
        return;
    out[1] = start + step;
    double delta = out[1] - out[0];
    for (size_t i = 2; i < n; i++)
        out[i] = start + (double)i * delta;
}

void sdc_reverse_f64(double *v, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        double t = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = t;
    }
}

/* numpy's float32 log (AVX2-FMA3 / AVX512F loops): mantissa m in [sqrt(1/2), sqrt(2)),
 * log(m) as a rational P5(x) / Q5(x) of x = m - 1 in fused multiply-adds, plus e * ln 2.
 * Up to ~4 ulp from the exact log, so log_sigmas differ from logf's in places. */
float sdc_np_logf(float v)
{
    static const float p[6] = {0.0f, 9.999999999999998702752e-01f, 2.112677543073053063722e+00f,
                               1.480000633576506585156e+00f, 3.808837741388407920751e-01f,
                               2.589979117907922693523e-02f};
    static const float q[6] = {1.0f, 2.612677543073109236779e+00f, 2.453006071784736363091e+00f,
                               9.864942958519418960339e-01f, 1.546476374983906719538e-01f,
                               5.875095403124574342950e-03f};
    if (!(v > 0.0f) || isinf(v) || v < 1.17549435e-38f)
        return logf(v); /* zero, negative, inf, NaN, subnormal: not in any schedule */
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    float e = (float)((int32_t)(bits >> 23) - 126);
    uint32_t mbits = (bits & 0x7fffffu) | (126u << 23);
    float m;
    memcpy(&m, &mbits, sizeof m);
    if (m <= 0.707106781186547524400844362104849039f) {
        m = m + m;
        e = e - 1.0f;
    }
    float x = m - 1.0f;
    float num = fmaf(p[5], x, p[4]), den = fmaf(q[5], x, q[4]);
    for (int i = 3; i >= 0; i--) {
        num = fmaf(num, x, p[i]);
        den = fmaf(den, x, q[i]);
    }
    return fmaf(e, 0.693147180559945309417232121458176568f, num / den);
}

/* ---- SLEEF: torch's float log / exp / expm1 ----
 * torch (built without MKL) evaluates these through its vectorized map for every element,
 * the partial last vector included, i.e. with SLEEF's u10 functions. The AVX2 build has
 * FMA, so SLEEF's multiply-adds are fused; its double-float helpers are reproduced here. */

/* Double-float pair: the value is hi + lo. */
typedef struct dfloat {
    float hi, lo;
} dfloat;

static dfloat df_add2_ff(float x, float y)
{
    float s = x + y, v = s - x;
    return (dfloat){s, (x - (s - v)) + (y - v)};
}

static dfloat df_add2_df(dfloat x, float y)
{
    float s = x.hi + y, v = s - x.hi;
    return (dfloat){s, ((x.hi - (s - v)) + (y - v)) + x.lo};
}

static dfloat df_add2_dd(dfloat x, dfloat y)
{
    float s = x.hi + y.hi, v = s - x.hi;
    return (dfloat){s, ((x.hi - (s - v)) + (y.hi - v)) + (x.lo + y.lo)};
}

static dfloat df_add_dd(dfloat x, dfloat y) /* |x| >= |y| */
{
    float s = x.hi + y.hi;
    return (dfloat){s, (((x.hi - s) + y.hi) + x.lo) + y.lo};
}

static dfloat df_add_df(dfloat x, float y) /* |x| >= |y| */
{
    float s = x.hi + y;
    return (dfloat){s, ((x.hi - s) + y) + x.lo};
}

static dfloat df_add_fd(float x, dfloat y) /* |x| >= |y| */
{
    float s = x + y.hi;
    return (dfloat){s, ((x - s) + y.hi) + y.lo};
}

static dfloat df_mul_df(dfloat x, float y)
{
    float s = x.hi * y;
    return (dfloat){s, fmaf(x.lo, y, fmaf(x.hi, y, -s))};
}

static dfloat df_mul_dd(dfloat x, dfloat y)
{
    float s = x.hi * y.hi;
    return (dfloat){s, fmaf(x.hi, y.lo, fmaf(x.lo, y.hi, fmaf(x.hi, y.hi, -s)))};
}

static dfloat df_square(dfloat x)
{
    float s = x.hi * x.hi;
    return (dfloat){s, fmaf(x.hi + x.hi, x.lo, fmaf(x.hi, x.hi, -s))};
}

static dfloat df_div(dfloat n, dfloat d)
{
    float t = 1.0f / d.hi;
    float s = n.hi * t;
    float u = fmaf(t, n.hi, -s);
    float v = fmaf(-d.lo, t, fmaf(-d.hi, t, 1.0f));
    return (dfloat){s, fmaf(s, v, fmaf(n.lo, t, u))};
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* x * 2^q in two steps (q may exceed one exponent's range). */
static float ldexp2(float x, int q)
{
    int h = q >> 1;
    return x * bits_f32((uint32_t)(h + 0x7f) << 23) * bits_f32((uint32_t)(q - h + 0x7f) << 23);
}

#define LN2_HI 0.693145751953125f
#define LN2_LO 1.428606765330187045e-06f
#define INV_LN2 1.442695040888963407359924681001892137f

/* log(d) = e log 2 + log(m) in double-float, m = d / 2^e in [0.75, 1.5). */
float sdc_torch_logf(float d)
{
    if (!(d > 0.0f) || isinf(d))
        return logf(d); /* 0, negative, inf, NaN: the special cases agree */
    int tiny = d < 1.17549435e-38f;
    if (tiny)
        d *= 18446744073709551616.0f; /* 2^64 */
    int e = (int)((f32_bits(d * (1.0f / 0.75f)) >> 23) & 0xff) - 0x7f;
    float m = bits_f32(f32_bits(d) - ((uint32_t)e << 23));
    if (tiny)
        e -= 64;
    dfloat s = df_mul_df((dfloat){0.69314718246459960938f, -1.904654323148236017e-09f},
                         (float)e);
    dfloat x = df_div(df_add2_ff(-1.0f, m), df_add2_ff(1.0f, m));
    float x2 = x.hi * x.hi;
    float t = fmaf(0.3027294874e+0f, x2, 0.3996108174e+0f);
    t = fmaf(t, x2, 0.6666694880e+0f);
    s = df_add_dd(s, (dfloat){x.hi * 2.0f, x.lo * 2.0f});
    s = df_add_df(s, x2 * x.hi * t);
    return s.hi + s.lo;
}

/* exp(d): Cody-Waite reduction by ln 2 and a degree-6 polynomial. */
float sdc_torch_expf(float d)
{
    if (isnan(d))
        return d;
    if (d < -104.0f)
        return 0.0f;
    if (d > 100.0f)
        return INFINITY;
    int q = (int)rintf(d * INV_LN2);
    float s = fmaf((float)q, -LN2_HI, d);
    s = fmaf((float)q, -LN2_LO, s);
    float u = 0.000198527617612853646278381f;
    u = fmaf(u, s, 0.00139304355252534151077271f);
    u = fmaf(u, s, 0.00833336077630519866943359f);
    u = fmaf(u, s, 0.0416664853692054748535156f);
    u = fmaf(u, s, 0.166666671633720397949219f);
    u = fmaf(u, s, 0.5f);
    u = 1.0f + fmaf(s * s, u, s);
    return ldexp2(u, q);
}

/* exp(a) as a double-float, for expm1 (a within expm1's finite range). */
static dfloat exp_df(float a)
{
    int q = (int)rintf(a * INV_LN2);
    dfloat s = df_add2_df((dfloat){a, 0.0f}, (float)q * -LN2_HI);
    s = df_add2_df(s, (float)q * -LN2_LO);
    float u = 0.1980960224e-3f;
    u = fmaf(u, s.hi, 0.1394256484e-2f);
    u = fmaf(u, s.hi, 0.8333456703e-2f);
    u = fmaf(u, s.hi, 0.4166637361e-1f);
    dfloat t = df_add2_df(df_mul_df(s, u), 0.166666659414234244790680580464e+0f);
    t = df_add2_df(df_mul_dd(s, t), 0.5f);
    t = df_add2_dd(s, df_mul_dd(df_square(s), t));
    t = df_add_fd(1.0f, t);
    return (dfloat){ldexp2(t.hi, q), ldexp2(t.lo, q)};
}

float sdc_torch_expm1f(float a)
{
    if (isnan(a))
        return a;
    if (a > 88.72283172607421875f)
        return INFINITY;
    if (a < -16.635532333438687426013570f)
        return -1.0f;
    if (a == 0.0f)
        return a; /* keeps -0 */
    dfloat d = df_add2_df(exp_df(a), -1.0f);
    return d.hi + d.lo;
}
