/* sdc_conv3x3_fused (ops/nn.h): the direct bf16 kernel (ops/conv_direct.h) where it applies,
 * else upsample, sdc_conv2d and the epilogue as separate passes; plus the portable packing
 * and the scalar reference of the direct kernel. */
#include <math.h>
#include <string.h>

#include "ops/conv_direct.h"
#include "ops/cpu.h"
#include "ops/dtype.h"
#include "ops/nn.h"
#include "ops/profile.h"
#include "ops/scratch.h"
#include "ops/winograd.h"

/* ---- portable packing and reference ---- */

static uint32_t pair_of(float lo, float hi)
{
    return sdc_f32_to_bf16(lo) | (uint32_t)sdc_f32_to_bf16(hi) << 16;
}

static uint32_t bits_of(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static float value_of(uint32_t u)
{
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static float lo_of(uint32_t p) { return sdc_bf16_to_f32((uint16_t)(p & 0xffff)); }
static float hi_of(uint32_t p) { return sdc_bf16_to_f32((uint16_t)(p >> 16)); }

/* The slot of channel c (bf16: the pair from c = 2 cp) from one value per channel. */
static uint32_t slot_of(const sdc_conv_direct *j, const float *v, int c)
{
    if (!j->bf16)
        return bits_of(v[0]);
    return pair_of(v[0], c + 1 < j->Cin ? v[1] : 0.0f);
}

void sdc_conv_pack_weights(const sdc_conv_direct *j, const sdc_weight *w, uint32_t *wp)
{
    enum { MR = SDC_CONV_DIRECT_MR };
    size_t dsize = sdc_dtype_size(w->dtype);
    int per = j->bf16 ? 2 : 1;
    memset(wp, 0, sizeof(uint32_t) * sdc_conv_weight_slots(j));
    for (int co = 0; co < j->Cout; co++) {
        const unsigned char *row = (const unsigned char *)w->data + (size_t)co * w->cols * dsize;
        uint32_t *tile = wp + (size_t)(co / MR) * j->Cp * 9 * MR + co % MR;
        for (int cp = 0; cp < j->Cp; cp++) {
            float g[2][9] = {{0}};
            for (int q = 0; q < per && per * cp + q < j->Cin; q++)
                sdc_convert_to_f32(g[q], row + (size_t)(per * cp + q) * 9 * dsize, w->dtype, 9);
            for (int t = 0; t < 9; t++)
                tile[(size_t)(cp * 9 + t) * MR] =
                    slot_of(j, (const float[2]){g[0][t], g[1][t]}, per * cp);
        }
    }
}

/* Input value of channel c at padded position (py, px), 0 in the border and past Cin. */
static float padded_value(const sdc_conv_direct *j, int b, int c, int py, int px)
{
    if (c >= j->Cin || py < 1 || py > j->Ho || px < 1 || px > j->Wo)
        return 0.0f;
    int iy = j->up ? (py - 1) / 2 : py - 1, ix = j->up ? (px - 1) / 2 : px - 1;
    return j->x[(((size_t)b * j->Cin + c) * j->H + iy) * j->W + ix];
}

void sdc_conv_pack_input_ref(const sdc_conv_direct *j, uint32_t *in)
{
    int Hp = j->Ho + 2, Wp = j->Wo + 2, per = j->bf16 ? 2 : 1;
    for (int b = 0; b < j->B; b++)
        for (int cp = 0; cp < j->Cp; cp++)
            for (int py = 0; py < Hp; py++) {
                uint32_t *d = in + (((size_t)b * j->Cp + cp) * Hp + py) * Wp;
                for (int px = 0; px < Wp; px++) {
                    float v[2] = {padded_value(j, b, per * cp, py, px),
                                  padded_value(j, b, per * cp + 1, py, px)};
                    d[px] = slot_of(j, v, per * cp);
                }
            }
    memset(in + sdc_conv_input_slots(j) - SDC_CONV_INPUT_TAIL, 0,
           sizeof(uint32_t) * SDC_CONV_INPUT_TAIL);
}

/* y = act(acc + bias (+ residual)) at output index idx of channel co. */
static void store_one(const sdc_conv_direct *j, int co, size_t idx, float acc)
{
    float v = acc + (j->bias ? j->bias[co] : 0.0f);
    if (j->residual)
        v += j->residual[idx];
    j->y[idx] = j->relu && !(v > 0.0f) ? 0.0f : v;
}

/* acc + the product of weight slot a and input slot x, as the AVX-512 kernels compute it. */
static float multiply_add(const sdc_conv_direct *j, float acc, uint32_t a, uint32_t x)
{
    if (!j->bf16)
        return fmaf(value_of(a), value_of(x), acc);
    /* vdpbf16ps's order: the odd (high) product first */
    acc += hi_of(a) * hi_of(x);
    return acc + lo_of(a) * lo_of(x);
}

void sdc_conv_direct_ref(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp)
{
    enum { MR = SDC_CONV_DIRECT_MR };
    int Hp = j->Ho + 2, Wp = j->Wo + 2;
    for (int b = 0; b < j->B; b++)
        for (int co = 0; co < j->Cout; co++)
            for (int oy = 0; oy < j->Ho; oy++)
                for (int ox = 0; ox < j->Wo; ox++) {
                    const uint32_t *w = wp + (size_t)(co / MR) * j->Cp * 9 * MR + co % MR;
                    float acc = 0.0f;
                    for (int cp = 0; cp < j->Cp; cp++)
                        for (int t = 0; t < 9; t++)
                            acc = multiply_add(
                                j, acc, w[(size_t)(cp * 9 + t) * MR],
                                in[(((size_t)b * j->Cp + cp) * Hp + oy + t / 3) * Wp + ox + t % 3]);
                    store_one(j, co, (((size_t)b * j->Cout + co) * j->Ho + oy) * j->Wo + ox, acc);
                }
}

/* ---- sdc_conv3x3_fused ---- */

/* Scratch floats from the arena when there is one (released by mark), else the thread's
 * scratch cache. */
typedef struct taken {
    float *data;
    sdc_arena *arena;
    size_t mark;
    sdc_scratch s;
} taken;

static taken take(sdc_arena *arena, size_t floats)
{
    taken t = {.arena = arena};
    if (arena) {
        t.mark = sdc_arena_mark(arena);
        t.data = sdc_arena_floats(arena, floats);
    } else {
        t.s = sdc_scratch_take(floats);
        t.data = t.s.data;
    }
    return t;
}

static void give(taken t)
{
    if (t.arena)
        sdc_arena_release(t.arena, t.mark);
    else if (t.data)
        sdc_scratch_give(t.s);
}

/* Whether a direct kernel computes this convolution: bf16 precision on a CPU with
 * AVX512_BF16, else f32 at the AVX512 or AVX2 level; unquantised weights, and no algorithm
 * forced (the tests that force Winograd or implicit GEMM mean those). */
static int bf16_math(void)
{
    return sdc_precision_get() == SDC_PRECISION_BF16 && sdc_cpu_has_bf16();
}

int sdc_conv3x3_direct(const sdc_weight *w)
{
    return !w->quant && sdc_conv_algo_get() == SDC_CONV_AUTO &&
           (bf16_math() || sdc_cpu_level_get() >= SDC_CPU_AVX2);
}

static int run_direct(const sdc_conv_direct *j, const sdc_weight *w, sdc_arena *scratch)
{
    size_t is = sdc_conv_input_slots(j), ws = sdc_conv_weight_slots(j);
    taken t = take(scratch, is + ws); /* uint32_t slots in float-sized storage */
    if (!t.data)
        return -1;
    uint32_t *in = (uint32_t *)(void *)t.data, *wp = in + is;
    sdc_conv_pack_weights(j, w, wp);
    if (j->bf16) {
        sdc_conv_pack_input_bf16(j, in);
        sdc_conv_direct_bf16(j, in, wp);
    } else if (sdc_cpu_level_get() == SDC_CPU_AVX512) {
        sdc_conv_pack_input_avx512(j, in);
        sdc_conv_direct_avx512(j, in, wp);
    } else {
        sdc_conv_pack_input_avx2(j, in);
        sdc_conv_direct_avx2(j, in, wp);
    }
    give(t);
    return 0;
}

/* The input of the separate passes: x itself, or a copy in scratch when it is resized or when
 * y is x (sdc_conv2d must not write what it reads). */
static taken source(const sdc_conv_direct *j, sdc_arena *scratch)
{
    if (!j->up && j->y != j->x)
        return (taken){.data = (float *)(uintptr_t)j->x};
    taken t = take(scratch, (size_t)j->B * j->Cin * j->Ho * j->Wo); // [B, Cin, Ho, Wo]
    if (t.data && j->up)
        sdc_upsample_nearest(t.data, j->x, j->B, j->Cin, j->H, j->W, j->Ho, j->Wo);
    else if (t.data)
        memcpy(t.data, j->x, sizeof(float) * j->B * j->Cin * j->H * j->W);
    return t;
}

/* The same as separate passes: the source, sdc_conv2d (into scratch when y is the residual,
 * which the sum still reads), then the epilogue. */
static int run_passes(const sdc_conv_direct *j, const sdc_weight *w, sdc_arena *scratch)
{
    size_t n = (size_t)j->B * j->Cout * j->Ho * j->Wo;
    taken src = source(j, scratch), sum = {.data = j->y};
    if (src.data && j->residual == j->y)
        sum = take(scratch, n);
    int bad = !src.data || !sum.data ||
              sdc_conv2d(sum.data, src.data, j->B, j->Cin, j->Ho, j->Wo, w, j->bias, 3, 1, 1,
                         scratch);
    if (!bad && j->residual && j->relu)
        sdc_add_relu(j->y, sum.data, j->residual, n);
    else if (!bad && j->residual)
        sdc_add(j->y, sum.data, j->residual, n);
    else if (!bad && j->relu)
        sdc_relu(j->y, n);
    if (sum.data != j->y) /* released in the reverse order of taking (the arena is a stack) */
        give(sum);
    if (src.data != j->x)
        give(src);
    return bad ? -1 : 0;
}

/* The job of sdc_conv3x3_fused. */
static sdc_conv_direct job(float *y, const float *x, int B, int Cin, int Cout, int H, int W,
                           int up, const float *bias, const float *residual, int relu)
{
    int Ho = up ? 2 * H : H, Wo = up ? 2 * W : W, bf16 = bf16_math();
    return (sdc_conv_direct){.y = y, .x = x, .bias = bias, .residual = residual, .B = B,
                             .Cin = Cin, .Cout = Cout, .H = H, .W = W, .up = up != 0,
                             .relu = relu != 0, .bf16 = bf16, .Ho = Ho, .Wo = Wo,
                             .Cp = bf16 ? (Cin + 1) / 2 : Cin};
}

size_t sdc_conv3x3_fused_scratch(int B, int Cin, int Cout, int H, int W, int up)
{
    sdc_conv_direct j = job(NULL, NULL, B, Cin, Cout, H, W, up, NULL, NULL, 0);
    return sdc_conv_input_slots(&j) + sdc_conv_weight_slots(&j);
}

int sdc_conv3x3_fused(float *y, const float *x, int B, int Cin, int H, int W, int up,
                      const sdc_weight *w, const float *bias, const float *residual, int relu,
                      sdc_arena *scratch)
{
    sdc_conv_direct j = job(y, x, B, Cin, w->rows, H, W, up, bias, residual, relu);
    if (!sdc_conv3x3_direct(w))
        return run_passes(&j, w, scratch); /* (its convolutions and adds count themselves) */
    sdc_prof_mark m = sdc_profile_begin();
    int rc = run_direct(&j, w, scratch);
    sdc_profile_end(SDC_PROF_DIRECT, m);
    return rc;
}
