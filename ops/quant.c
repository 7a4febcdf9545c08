/* ggml's type table and the scalar expansion of each block layout to f32 (see quant.h).
 * Products and offsets are separate statements: a compiler may contract a * b - c within one
 * expression into an FMA, whose single rounding would differ from ggml's two. */
#include "ops/quant.h"

#include <string.h>
#include <strings.h>

#include "ops/dtype.h"

enum { QK = 32, QK_K = 256 };

static float half_at(const uint8_t *p) { return sdc_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

static void expand_f32(const uint8_t *src, float *dst, size_t n)
{
    memcpy(dst, src, n * sizeof *dst);
}

static void expand_f16(const uint8_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = half_at(src + 2 * i);
}

static void expand_bf16(const uint8_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = sdc_bf16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
}

/* q8_0: d, 32 x int8; x = q * d */
static void expand_q8_0(const uint8_t *src, float *dst, size_t n)
{
    for (size_t b = 0; b < n; b++, src += 34, dst += QK) {
        float d = half_at(src);
        for (int j = 0; j < QK; j++)
            dst[j] = (float)(int8_t)src[2 + j] * d;
    }
}

/* q4_0 / q4_1: d (, m), 16 bytes: low nibbles values 0-15, high nibbles 16-31. q4_0 centres
 * by 8 in integers, so a negative d times 0 stays -0.0 as in ggml. */
static void expand_q4_0(const uint8_t *src, float *dst, size_t n)
{
    for (size_t b = 0; b < n; b++, src += 18, dst += QK) {
        float d = half_at(src);
        for (int j = 0; j < QK / 2; j++) {
            dst[j] = (float)((src[2 + j] & 15) - 8) * d;
            dst[j + QK / 2] = (float)((src[2 + j] >> 4) - 8) * d;
        }
    }
}

static void expand_q4_1(const uint8_t *src, float *dst, size_t n)
{
    for (size_t b = 0; b < n; b++, src += 20, dst += QK) {
        float d = half_at(src), m = half_at(src + 2);
        for (int j = 0; j < QK / 2; j++) {
            float lo = (float)(src[4 + j] & 15) * d, hi = (float)(src[4 + j] >> 4) * d;
            dst[j] = lo + m;
            dst[j + QK / 2] = hi + m;
        }
    }
}

/* q5_0 / q5_1: as q4 with a fifth bit per value in a little-endian u32 (bit j: value j) */
static uint32_t u32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void expand_q5_0(const uint8_t *src, float *dst, size_t n)
{
    for (size_t b = 0; b < n; b++, src += 22, dst += QK) {
        float d = half_at(src);
        uint32_t qh = u32_at(src + 2);
        for (int j = 0; j < QK / 2; j++) {
            int lo = (src[6 + j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (src[6 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            dst[j] = (float)(lo - 16) * d;
            dst[j + QK / 2] = (float)(hi - 16) * d;
        }
    }
}

static void expand_q5_1(const uint8_t *src, float *dst, size_t n)
{
    for (size_t b = 0; b < n; b++, src += 24, dst += QK) {
        float d = half_at(src), m = half_at(src + 2);
        uint32_t qh = u32_at(src + 4);
        for (int j = 0; j < QK / 2; j++) {
            int lo = (src[8 + j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (src[8 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            float plo = (float)lo * d, phi = (float)hi * d;
            dst[j] = plo + m;
            dst[j + QK / 2] = phi + m;
        }
    }
}

/* x = dl * q - ml over 16 values, the K-quants' common step */
static void scaled_run(float *dst, const int *q, float dl, float ml)
{
    for (int l = 0; l < 16; l++) {
        float p = dl * (float)q[l];
        dst[l] = p - ml;
    }
}

/* q2_K (84 bytes): scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.
 * Each 32-byte quarter of qs holds four 2-bit planes of 32 values, 16 per scale. */
static void expand_q2_k(const uint8_t *src, float *dst, size_t n)
{
    for (size_t b = 0; b < n; b++, src += 84) {
        float d = half_at(src + 80), dmin = half_at(src + 82);
        const uint8_t *sc = src, *q = src + 16;
        for (int half = 0; half < 2; half++, q += 32)
            for (int shift = 0; shift < 8; shift += 2)
                for (int part = 0; part < 2; part++, sc++, dst += 16) {
                    int v[16];
                    for (int l = 0; l < 16; l++)
                        v[l] = (q[16 * part + l] >> shift) & 3;
                    scaled_run(dst, v, d * (float)(*sc & 15), dmin * (float)(*sc >> 4));
                }
    }
}

/* q3_K's 16 six-bit scales packed in 12 bytes: low 4 bits in bytes 0-7, high 2 in 8-11 */
static void q3_k_scales(const uint8_t *p, int out[16])
{
    for (int j = 0; j < 16; j++) {
        int low = j < 8 ? p[j] & 15 : p[j - 8] >> 4;
        int high = (p[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (low | high << 4) - 32;
    }
}

/* q3_K (110 bytes): hmask[32], qs[64], scales[12], d. A value is its 2 low bits minus 4
 * unless its hmask bit is set. */
static void expand_q3_k(const uint8_t *src, float *dst, size_t n)
{
    for (size_t b = 0; b < n; b++, src += 110) {
        float d = half_at(src + 108);
        int scales[16], is = 0;
        q3_k_scales(src + 96, scales);
        const uint8_t *hm = src, *q = src + 32;
        unsigned m = 1;
        for (int half = 0; half < 2; half++, q += 32)
            for (int shift = 0; shift < 8; shift += 2, m <<= 1)
                for (int part = 0; part < 2; part++, dst += 16) {
                    int v[16];
                    for (int l = 0; l < 16; l++)
                        v[l] = ((q[16 * part + l] >> shift) & 3) - (hm[16 * part + l] & m ? 0 : 4);
                    scaled_run(dst, v, d * (float)scales[is++], 0.0f);
                }
    }
}

/* q4_K / q5_K: 8 six-bit (scale, min) pairs packed in 12 bytes */
static void k4_scale_min(int j, const uint8_t *q, int *sc, int *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 15) | (q[j - 4] >> 6) << 4;
        *m = (q[j + 4] >> 4) | (q[j] >> 6) << 4;
    }
}

/* 32 values of sub-block j: dl * q - ml */
static void k4_run(float *dst, const int *q, float d, float dmin, int j, const uint8_t *scales)
{
    int sc, m;
    k4_scale_min(j, scales, &sc, &m);
    float dl = d * (float)sc, ml = dmin * (float)m;
    scaled_run(dst, q, dl, ml);
    scaled_run(dst + 16, q + 16, dl, ml);
}

/* q4_K (144 bytes): d, dmin, scales[12], qs[128]; each 32 bytes of qs hold two sub-blocks
 * (low nibbles, then high nibbles) */
static void expand_q4_k(const uint8_t *src, float *dst, size_t n)
{
    for (size_t b = 0; b < n; b++, src += 144) {
        float d = half_at(src), dmin = half_at(src + 2);
        const uint8_t *q = src + 16;
        for (int j = 0; j < 8; j += 2, q += 32, dst += 64) {
            int lo[32], hi[32];
            for (int l = 0; l < 32; l++)
                lo[l] = q[l] & 15, hi[l] = q[l] >> 4;
            k4_run(dst, lo, d, dmin, j, src + 4);
            k4_run(dst + 32, hi, d, dmin, j + 1, src + 4);
        }
    }
}

/* q5_K (176 bytes): d, dmin, scales[12], qh[32], qs[128]: q4_K plus a fifth bit per value,
 * bit j of qh[l] for sub-block j */
static void expand_q5_k(const uint8_t *src, float *dst, size_t n)
{
    for (size_t b = 0; b < n; b++, src += 176) {
        float d = half_at(src), dmin = half_at(src + 2);
        const uint8_t *qh = src + 16, *q = src + 48;
        for (int j = 0; j < 8; j += 2, q += 32, dst += 64) {
            int lo[32], hi[32];
            for (int l = 0; l < 32; l++) {
                lo[l] = (q[l] & 15) + ((qh[l] >> j) & 1 ? 16 : 0);
                hi[l] = (q[l] >> 4) + ((qh[l] >> (j + 1)) & 1 ? 16 : 0);
            }
            k4_run(dst, lo, d, dmin, j, src + 4);
            k4_run(dst + 32, hi, d, dmin, j + 1, src + 4);
        }
    }
}

/* q6_K (210 bytes): ql[128], qh[64], scales[16] (int8), d. Per 128 values: 64 bytes of low
 * nibbles, 32 bytes of 2-bit high parts; x = d * scale * (q - 32), multiplied left to right. */
static void expand_q6_k(const uint8_t *src, float *dst, size_t n)
{
    for (size_t b = 0; b < n; b++, src += 210) {
        float d = half_at(src + 208);
        const uint8_t *ql = src, *qh = src + 128;
        const int8_t *sc = (const int8_t *)(src + 192);
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, dst += 128)
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 15) | ((qh[l] >> 0) & 3) << 4) - 32;
                int q2 = ((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32;
                int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
                int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
                dst[l] = d * (float)sc[is] * (float)q1;
                dst[l + 32] = d * (float)sc[is + 2] * (float)q2;
                dst[l + 64] = d * (float)sc[is + 4] * (float)q3;
                dst[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
    }
}

/* Indexed by ggml type id; names of the types sdc does not read are kept so that a file
 * using one is refused by name. Block sizes of those are not needed. */
static const sdc_qtype_info types[] = {
    [0] = {"f32", 1, 4, expand_f32},
    [1] = {"f16", 1, 2, expand_f16},
    [2] = {"q4_0", QK, 18, expand_q4_0},
    [3] = {"q4_1", QK, 20, expand_q4_1},
    [6] = {"q5_0", QK, 22, expand_q5_0},
    [7] = {"q5_1", QK, 24, expand_q5_1},
    [8] = {"q8_0", QK, 34, expand_q8_0},
    [9] = {"q8_1", 0, 0, NULL},
    [10] = {"q2_K", QK_K, 84, expand_q2_k},
    [11] = {"q3_K", QK_K, 110, expand_q3_k},
    [12] = {"q4_K", QK_K, 144, expand_q4_k},
    [13] = {"q5_K", QK_K, 176, expand_q5_k},
    [14] = {"q6_K", QK_K, 210, expand_q6_k},
    [15] = {"q8_K", 0, 0, NULL},
    [16] = {"iq2_xxs", 0, 0, NULL},
    [17] = {"iq2_xs", 0, 0, NULL},
    [18] = {"iq3_xxs", 0, 0, NULL},
    [19] = {"iq1_s", 0, 0, NULL},
    [20] = {"iq4_nl", 0, 0, NULL},
    [21] = {"iq3_s", 0, 0, NULL},
    [22] = {"iq2_s", 0, 0, NULL},
    [23] = {"iq4_xs", 0, 0, NULL},
    [24] = {"i8", 0, 0, NULL},
    [25] = {"i16", 0, 0, NULL},
    [26] = {"i32", 0, 0, NULL},
    [27] = {"i64", 0, 0, NULL},
    [28] = {"f64", 0, 0, NULL},
    [29] = {"iq1_m", 0, 0, NULL},
    [30] = {"bf16", 1, 2, expand_bf16},
    [34] = {"tq1_0", 0, 0, NULL},
    [35] = {"tq2_0", 0, 0, NULL},
    [39] = {"mxfp4", 0, 0, NULL},
    [40] = {"nvfp4", 0, 0, NULL},
    [41] = {"q1_0", 0, 0, NULL},
    [42] = {"q2_0", 0, 0, NULL},
};

enum { TYPE_COUNT = sizeof types / sizeof *types };

const sdc_qtype_info *sdc_qtype_get(uint32_t id)
{
    return id < TYPE_COUNT && types[id].name ? &types[id] : NULL;
}

const char *sdc_qtype_name(uint32_t id)
{
    const sdc_qtype_info *t = sdc_qtype_get(id);
    return t ? t->name : "unknown";
}

int sdc_qtype_from_name(const char *name)
{
    for (int id = 0; id < TYPE_COUNT; id++)
        if (types[id].expand && strcasecmp(types[id].name, name) == 0)
            return id;
    return -1;
}
