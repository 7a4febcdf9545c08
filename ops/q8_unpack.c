#include "ops/q8_unpack.h"

#include "ops/dtype.h"

enum { QK = 32 };

static float half_at(const uint8_t *p) { return sdc_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

static uint32_t u32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* 16 bytes of nibbles: value t in the low nibble of byte t, value t + 16 in its high nibble;
 * fifth bits (bit t of qh: value t) when qh is given; minus `centre`. */
static void nibbles(const uint8_t *qs, const uint32_t *qh, int centre, int8_t *q)
{
    for (int t = 0; t < QK / 2; t++) {
        int lo = qs[t] & 15, hi = qs[t] >> 4;
        if (qh) {
            lo |= (int)((*qh >> t) & 1) << 4;
            hi |= (int)((*qh >> (t + 16)) & 1) << 4;
        }
        q[t] = (int8_t)(lo - centre);
        q[t + QK / 2] = (int8_t)(hi - centre);
    }
}

/* The legacy types' block b: d, then m when `with_min`, then a u32 of fifth bits when
 * `with_qh`, then 16 bytes of nibbles. q4_0 18 bytes, q5_0 22, q4_1 20, q5_1 24. */
static void legacy(const uint8_t *row, int b, int bytes, int with_min, int with_qh, int centre,
                   int8_t *q, float *scale, float *offset)
{
    const uint8_t *x = row + (size_t)b * bytes, *p = x + (with_min ? 4 : 2);
    uint32_t qh = with_qh ? u32_at(p) : 0;
    nibbles(p + (with_qh ? 4 : 0), with_qh ? &qh : NULL, centre, q);
    *scale = half_at(x);
    *offset = with_min ? half_at(x + 2) : 0.0f;
}

static void q4_0(const uint8_t *row, int b, int8_t *q, float *scale, float *offset)
{
    legacy(row, b, 18, 0, 0, 8, q, scale, offset);
}

static void q5_0(const uint8_t *row, int b, int8_t *q, float *scale, float *offset)
{
    legacy(row, b, 22, 0, 1, 16, q, scale, offset);
}

static void q4_1(const uint8_t *row, int b, int8_t *q, float *scale, float *offset)
{
    legacy(row, b, 20, 1, 0, 0, q, scale, offset);
}

static void q5_1(const uint8_t *row, int b, int8_t *q, float *scale, float *offset)
{
    legacy(row, b, 24, 1, 1, 0, q, scale, offset);
}

/* Sub-block s's six-bit (scale, min) of a q4_K / q5_K super-block (12 packed bytes). */
static void k4_scale_min(int s, const uint8_t *p, int *sc, int *m)
{
    if (s < 4) {
        *sc = p[s] & 63;
        *m = p[s + 4] & 63;
    } else {
        *sc = (p[s + 4] & 15) | (p[s - 4] >> 6) << 4;
        *m = (p[s + 4] >> 4) | (p[s] >> 6) << 4;
    }
}

/* q4_K (144 bytes per 256 values): d, dmin, scales[12], qs[128]; sub-blocks 2p and 2p + 1 are
 * the low and high nibbles of qs[32 p ... 32 p + 31]. q5_K (176 bytes): d, dmin, scales[12],
 * qh[32], qs[128]: bit s of qh[t] is value t's fifth bit in sub-block s. */
static void k_quant(const uint8_t *x, const uint8_t *qh, const uint8_t *qs, int s, int8_t *q,
                    float *scale, float *offset)
{
    const uint8_t *pair = qs + 32 * (s / 2);
    for (int t = 0; t < QK; t++) {
        int v = s % 2 ? pair[t] >> 4 : pair[t] & 15;
        if (qh)
            v |= ((qh[t] >> s) & 1) << 4;
        q[t] = (int8_t)v;
    }
    int sc, m;
    k4_scale_min(s, x + 4, &sc, &m);
    *scale = half_at(x) * (float)sc;
    *offset = -(half_at(x + 2) * (float)m);
}

static void q4_k(const uint8_t *row, int b, int8_t *q, float *scale, float *offset)
{
    const uint8_t *x = row + (size_t)(b / 8) * 144;
    k_quant(x, NULL, x + 16, b % 8, q, scale, offset);
}

static void q5_k(const uint8_t *row, int b, int8_t *q, float *scale, float *offset)
{
    const uint8_t *x = row + (size_t)(b / 8) * 176;
    k_quant(x, x + 16, x + 48, b % 8, q, scale, offset);
}

const sdc_q8_unpacker *sdc_q8_unpacker_for(const sdc_qtype_info *wq)
{
    static const sdc_q8_unpacker u4_0 = {q4_0, 0}, u5_0 = {q5_0, 0}, u4_1 = {q4_1, 1},
                                 u5_1 = {q5_1, 1}, u4_k = {q4_k, 1}, u5_k = {q5_k, 1};
    if (!wq)
        return NULL;
    if (wq == sdc_qtype_get(SDC_QTYPE_Q4_0))
        return &u4_0;
    if (wq == sdc_qtype_get(SDC_QTYPE_Q5_0))
        return &u5_0;
    if (wq == sdc_qtype_get(SDC_QTYPE_Q4_1))
        return &u4_1;
    if (wq == sdc_qtype_get(SDC_QTYPE_Q5_1))
        return &u5_1;
    if (wq == sdc_qtype_get(SDC_QTYPE_Q4_K))
        return &u4_k;
    if (wq == sdc_qtype_get(SDC_QTYPE_Q5_K))
        return &u5_k;
    return NULL;
}
