/* sdc_conv3x3_fused (ops/nn.h): the direct bf16 kernel (ops/conv_direct.h) where it applies,
 * else upsample, sdc_conv2d and the epilogue as separate passes; plus the portable packing
 * and the scalar reference of the direct kernel. */
#include <string.h>

#include "ops/conv_direct.h"
#include "ops/cpu.h"
#include "ops/dtype.h"
#include "ops/nn.h"
#include "ops/scratch.h"
#include "ops/winograd.h"

/* ---- portable packing and reference ---- */

static uint32_t pair_of(float lo, float hi)
{
    return sdc_f32_to_bf16(lo) | (uint32_t)sdc_f32_to_bf16(hi) << 16;
}

static float lo_of(uint32_t p) { return sdc_bf16_to_f32((uint16_t)(p & 0xffff)); }
static float hi_of(uint32_t p) { return sdc_bf16_to_f32((uint16_t)(p >> 16)); }

void sdc_conv_pack_weights(const sdc_conv_direct *j, const sdc_weight *w, uint32_t *wp)
{
    enum { MR = SDC_CONV_DIRECT_MR };
    size_t dsize = sdc_dtype_size(w->dtype);
    memset(wp, 0, sizeof(uint32_t) * sdc_conv_weight_slots(j));
    for (int co = 0; co < j->Cout; co++) {
        const unsigned char *row = (const unsigned char *)w->data + (size_t)co * w->cols * dsize;
        uint32_t *tile = wp + (size_t)(co / MR) * j->Cp * 9 * MR + co % MR;
        for (int cp = 0; cp < j->Cp; cp++) {
            float lo[9], hi[9] = {0};
            sdc_convert_to_f32(lo, row + (size_t)2 * cp * 9 * dsize, w->dtype, 9);
            if (2 * cp + 1 < j->Cin)
                sdc_convert_to_f32(hi, row + (size_t)(2 * cp + 1) * 9 * dsize, w->dtype, 9);
            for (int t = 0; t < 9; t++)
                tile[(size_t)(cp * 9 + t) * MR] = pair_of(lo[t], hi[t]);
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

void sdc_conv_pack_pairs_ref(const sdc_conv_direct *j, uint32_t *pairs)
{
    int Hp = j->Ho + 2, Wp = j->Wo + 2;
    for (int b = 0; b < j->B; b++)
        for (int cp = 0; cp < j->Cp; cp++)
            for (int py = 0; py < Hp; py++) {
                uint32_t *d = pairs + (((size_t)b * j->Cp + cp) * Hp + py) * Wp;
                for (int px = 0; px < Wp; px++)
                    d[px] = pair_of(padded_value(j, b, 2 * cp, py, px),
                                    padded_value(j, b, 2 * cp + 1, py, px));
            }
    memset(pairs + sdc_conv_pairs_slots(j) - SDC_CONV_PAIRS_TAIL, 0,
           sizeof(uint32_t) * SDC_CONV_PAIRS_TAIL);
}

/* y = act(acc + bias (+ residual)) at output index idx of channel co. */
static void store_one(const sdc_conv_direct *j, int co, size_t idx, float acc)
{
    float v = acc + (j->bias ? j->bias[co] : 0.0f);
    if (j->residual)
        v += j->residual[idx];
    j->y[idx] = j->relu && !(v > 0.0f) ? 0.0f : v;
}

void sdc_conv_direct_ref(const sdc_conv_direct *j, const uint32_t *pairs, const uint32_t *wp)
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
                        for (int t = 0; t < 9; t++) {
                            uint32_t a = w[(size_t)(cp * 9 + t) * MR];
                            uint32_t x = pairs[(((size_t)b * j->Cp + cp) * Hp + oy + t / 3) *
                                                   Wp + ox + t % 3];
                            /* vdpbf16ps's order: the odd (high) product first */
                            acc += hi_of(a) * hi_of(x);
                            acc += lo_of(a) * lo_of(x);
                        }
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

/* Whether the direct bf16 kernel computes this convolution: bf16 precision on a CPU with
 * AVX512_BF16, unquantised weights, and no algorithm forced (the tests that force Winograd
 * or implicit GEMM mean those). */
int sdc_conv3x3_direct(const sdc_weight *w)
{
    return sdc_precision_get() == SDC_PRECISION_BF16 && sdc_cpu_has_bf16() && !w->quant &&
           sdc_conv_algo_get() == SDC_CONV_AUTO;
}

static int run_direct(const sdc_conv_direct *j, const sdc_weight *w, sdc_arena *scratch)
{
    size_t ps = sdc_conv_pairs_slots(j), ws = sdc_conv_weight_slots(j);
    taken t = take(scratch, ps + ws); /* uint32_t slots in float-sized storage */
    if (!t.data)
        return -1;
    uint32_t *pairs = (uint32_t *)(void *)t.data, *wp = pairs + ps;
    sdc_conv_pack_weights(j, w, wp);
    sdc_conv_pack_pairs_bf16(j, pairs);
    sdc_conv_direct_bf16(j, pairs, wp);
    give(t);
    return 0;
}

/* The same as separate passes: nearest 2x into scratch, sdc_conv2d, then the epilogue. */
static int run_passes(const sdc_conv_direct *j, const sdc_weight *w, sdc_arena *scratch)
{
    const float *src = j->x;
    taken t = {0};
    if (j->up) { // [B, Cin, 2H, 2W]
        t = take(scratch, (size_t)j->B * j->Cin * j->Ho * j->Wo);
        if (!t.data)
            return -1;
        sdc_upsample_nearest(t.data, j->x, j->B, j->Cin, j->H, j->W, j->Ho, j->Wo);
        src = t.data;
    }
    int bad = sdc_conv2d(j->y, src, j->B, j->Cin, j->Ho, j->Wo, w, j->bias, 3, 1, 1, scratch);
    if (j->up)
        give(t);
    size_t n = (size_t)j->B * j->Cout * j->Ho * j->Wo;
    if (!bad && j->residual && j->relu)
        sdc_add_relu(j->y, j->y, j->residual, n);
    else if (!bad && j->residual)
        sdc_add(j->y, j->y, j->residual, n);
    else if (!bad && j->relu)
        sdc_relu(j->y, n);
    return bad ? -1 : 0;
}

int sdc_conv3x3_fused(float *y, const float *x, int B, int Cin, int H, int W, int up,
                      const sdc_weight *w, const float *bias, const float *residual, int relu,
                      sdc_arena *scratch)
{
    int Ho = up ? 2 * H : H, Wo = up ? 2 * W : W;
    sdc_conv_direct j = {y, x, bias, residual, B, Cin, w->rows, H, W, up != 0, relu != 0,
                         Ho, Wo, (Cin + 1) / 2};
    return sdc_conv3x3_direct(w) ? run_direct(&j, w, scratch) : run_passes(&j, w, scratch);
}
