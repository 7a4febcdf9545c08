/* Flash-style attention for AVX-512 (see ops/attention_impl.h). Work items are (batch, head,
 * query range). Each packs its head's keys transposed and pre-scaled, kt[c][j] = scale k[j][c],
 * and its values with rows padded to whole vectors, then walks blocks of BLOCK query rows:
 * for every tile of KEY_TILE keys, each group of 4 rows gets its scores as register-blocked
 * products (4 rows x 64 keys in 16 accumulators, broadcasting q[r][c] against 4 vectors of kt
 * row c), an online softmax update (running max and sum per row) and the tile's
 * probabilities times V added to its accumulators. Scores are kept in base 2 (log2 e is
 * folded into the key scale), so probabilities are plain powers of two. The key and value
 * tiles stay in L1 while all the block's row groups use them. Memory per thread: one packed
 * head of K and V and the block's accumulators. The packing and products go through an
 * sdc_flash_kernels set: this file's f32 FMAs, or ops/attention_bf16.c's bf16 pairs. */
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")

#include <math.h>
#include <omp.h>
#include <stddef.h>

#include "ops/attention_impl.h"
#include "ops/parallel.h"
#include "ops/scratch.h"
#include "ops/simd_avx512.h"

enum { ROWS = SDC_FLASH_ROWS, SCORE_TILE = 64, KEY_TILE = SDC_FLASH_KEY_TILE, DV_MAX = 6,
       BLOCK = 64 };

#define LOG2E 1.44269504f

static int min_int(int a, int b) { return a < b ? a : b; }
static int round16(int n) { return (n + 15) & ~15; }

/* kt[c * ldk + j] = scale k[j * stride + c] for j < n, c < d; columns n .. ldk are zero. */
static void pack_keys(float *kt, int ldk, const float *k, int stride, int n, int d, float scale)
{
    __m512 s = _mm512_set1_ps(scale);
    for (int j = 0; j < ldk; j += 16)
        for (int c = 0; c < d; c += 16) {
            __mmask16 cols = sdc_lanes16(d - c);
            __m512 v[16];
            for (int r = 0; r < 16; r++)
                v[r] = j + r < n ? _mm512_mul_ps(s, _mm512_maskz_loadu_ps(
                                                         cols, k + (size_t)(j + r) * stride + c))
                                 : _mm512_setzero_ps();
            sdc_transpose16(v);
            for (int t = 0; t < 16 && c + t < d; t++)
                _mm512_store_ps(kt + (size_t)(c + t) * ldk + j, v[t]);
        }
}

/* vp[j * ldv + c] = v[j * stride + c] for j < n, c < d, zero up to ldv = round16(d). */
static void pack_values(float *vp, int ldv, const float *v, int stride, int n, int d)
{
    for (int j = 0; j < n; j++)
        for (int c = 0; c < ldv; c += 16)
            _mm512_store_ps(vp + (size_t)j * ldv + c,
                            _mm512_maskz_loadu_ps(sdc_lanes16(d - c), v + (size_t)j * stride + c));
}

/* s[r][v] = scores of query row r with keys j0 + 16 v .. + 15. */
static inline __attribute__((always_inline)) void
score_tile(const int NV, const float *const q[ROWS], const float *kt, int ldk, int j0, int d,
           __m512 s[ROWS][4])
{
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++)
            s[r][v] = _mm512_setzero_ps();
    for (int c = 0; c < d; c++) {
        const float *kc = kt + (size_t)c * ldk + j0;
        __m512 kv[4];
        for (int v = 0; v < NV; v++)
            kv[v] = _mm512_load_ps(kc + 16 * v);
        for (int r = 0; r < ROWS; r++) {
            __m512 qb = _mm512_set1_ps(q[r][c]);
            for (int v = 0; v < NV; v++)
                s[r][v] = _mm512_fmadd_ps(qb, kv[v], s[r][v]);
        }
    }
}

static void scores(int nv, const float *const q[ROWS], const float *kt, int ldk, int j0, int d,
                   float (*p)[KEY_TILE], int s0)
{
    __m512 s[ROWS][4];
    switch (nv) {
    case 1: score_tile(1, q, kt, ldk, j0, d, s); break;
    case 2: score_tile(2, q, kt, ldk, j0, d, s); break;
    case 3: score_tile(3, q, kt, ldk, j0, d, s); break;
    default: score_tile(4, q, kt, ldk, j0, d, s); break;
    }
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < nv; v++)
            _mm512_store_ps(p[r] + s0 + 16 * v, s[r][v]);
}

/* o[r][c0 ..] += sum_j p[r][j] vp[j][c0 ..] over DV vectors of columns. */
static inline __attribute__((always_inline)) void
pv_tile(const int DV, float *o, int ldv, const float (*p)[KEY_TILE], const float *vp, int nj,
        int c0)
{
    __m512 acc[ROWS][DV_MAX];
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < DV; t++)
            acc[r][t] = _mm512_load_ps(o + (size_t)r * ldv + c0 + 16 * t);
    for (int j = 0; j < nj; j++) {
        const float *vj = vp + (size_t)j * ldv + c0;
        __m512 vv[DV_MAX];
        for (int t = 0; t < DV; t++)
            vv[t] = _mm512_load_ps(vj + 16 * t);
        for (int r = 0; r < ROWS; r++) {
            __m512 pb = _mm512_set1_ps(p[r][j]);
            for (int t = 0; t < DV; t++)
                acc[r][t] = _mm512_fmadd_ps(pb, vv[t], acc[r][t]);
        }
    }
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < DV; t++)
            _mm512_store_ps(o + (size_t)r * ldv + c0 + 16 * t, acc[r][t]);
}

static void accumulate_pv(float *o, int ldv, const float (*p)[KEY_TILE], const float *vp,
                          int j0, int nj)
{
    vp += (size_t)j0 * ldv;
    for (int c0 = 0; c0 < ldv; c0 += 16 * DV_MAX) {
        switch (min_int(DV_MAX, (ldv - c0) / 16)) {
        case 1: pv_tile(1, o, ldv, p, vp, nj, c0); break;
        case 2: pv_tile(2, o, ldv, p, vp, nj, c0); break;
        case 3: pv_tile(3, o, ldv, p, vp, nj, c0); break;
        case 4: pv_tile(4, o, ldv, p, vp, nj, c0); break;
        case 5: pv_tile(5, o, ldv, p, vp, nj, c0); break;
        default: pv_tile(6, o, ldv, p, vp, nj, c0); break;
        }
    }
}

static float weights(float *p, int n, float max)
{
    __m512 m = _mm512_set1_ps(max), sum = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 16) {
        __m512 e = sdc_exp2_16(_mm512_sub_ps(_mm512_load_ps(p + j), m));
        sum = _mm512_add_ps(sum, e);
        _mm512_store_ps(p + j, e);
    }
    return _mm512_reduce_add_ps(sum);
}

static const sdc_flash_kernels f32_kernels = {pack_keys, pack_values, NULL, scores, weights,
                                               accumulate_pv};

/* One thread's working memory for a block of query rows. */
typedef struct block_state {
    float *o;             /* [BLOCK][ldv] running numerators */
    float *q;             /* [BLOCK][ldq] the rows as fk->pack_queries leaves them */
    float max[BLOCK], sum[BLOCK];
    float p[ROWS][KEY_TILE] __attribute__((aligned(64)));
} block_state;

/* Turns the base-2 scores in p[pr] (keys j0 .. j0 + n, the first `valid` usable) into
 * probabilities, rescaling row r's sum and accumulator when its running maximum grows. */
static void softmax_update(block_state *st, int r, int pr, int n, int valid, int ldv,
                           const sdc_flash_kernels *fk)
{
    __m512 ninf = _mm512_set1_ps(-INFINITY), mx = ninf;
    float *p = st->p[pr];
    if (valid >= n && n % 16 == 0) /* no lane to mask: every key usable, no padding */
        for (int j = 0; j < n; j += 16)
            mx = _mm512_max_ps(mx, _mm512_load_ps(p + j));
    else
        for (int j = 0; j < n; j += 16) {
            __m512 s = _mm512_mask_blend_ps(sdc_lanes16(valid - j), ninf, _mm512_load_ps(p + j));
            _mm512_store_ps(p + j, s);
            mx = _mm512_max_ps(mx, s);
        }
    float tile_max = _mm512_reduce_max_ps(mx);
    if (tile_max == -INFINITY) { /* every key of the tile is masked for this row */
        for (int j = 0; j < n; j += 16)
            _mm512_store_ps(p + j, _mm512_setzero_ps());
        return;
    }
    if (tile_max > st->max[r]) {
        float rescale = exp2f(st->max[r] - tile_max); /* 0 on the row's first tile */
        st->sum[r] *= rescale;
        st->max[r] = tile_max;
        __m512 f = _mm512_set1_ps(rescale);
        float *o = st->o + (size_t)r * ldv;
        for (int c = 0; c < ldv; c += 16)
            _mm512_store_ps(o + c, _mm512_mul_ps(f, _mm512_load_ps(o + c)));
    }
    st->sum[r] += fk->weights(p, n, st->max[r]);
}

/* The packed head and where its rows live. */
typedef struct head_view {
    const float *q; /* row 0 of the head's queries */
    int q_stride;
    const float *kt, *vp;
    int ldk, ldv, ldq, Tk, d, causal;
    const sdc_flash_kernels *fk;
} head_view;

/* Query rows i0 .. i0 + n (n <= BLOCK) of one head into out (row stride out_stride). */
static void attend_block(const head_view *hv, block_state *st, float *out, int out_stride,
                         int i0, int n)
{
    int ldv = hv->ldv, q_stride = hv->q_stride;
    const float *q = hv->q + (size_t)i0 * q_stride;
    if (hv->fk->pack_queries) {
        hv->fk->pack_queries(st->q, hv->ldq, q, q_stride, n, hv->d);
        q = st->q;
        q_stride = hv->ldq;
    }
    for (int r = 0; r < n; r++) {
        st->max[r] = -INFINITY;
        st->sum[r] = 0;
        for (int c = 0; c < ldv; c += 16)
            _mm512_store_ps(st->o + (size_t)r * ldv + c, _mm512_setzero_ps());
    }
    int keys = hv->causal ? min_int(hv->Tk, i0 + n) : hv->Tk;
    for (int j0 = 0; j0 < keys; j0 += KEY_TILE) {
        for (int g = 0; g < n; g += ROWS) {
            const float *qr[ROWS];
            int limit[ROWS]; /* keys row g + r may see */
            for (int r = 0; r < ROWS; r++) {
                int i = i0 + g + min_int(r, n - g - 1); /* missing rows repeat the last one */
                qr[r] = q + (size_t)(i - i0) * q_stride;
                limit[r] = hv->causal ? min_int(hv->Tk, i + 1) : hv->Tk;
            }
            int nj = min_int(KEY_TILE, limit[ROWS - 1] - j0);
            if (nj <= 0)
                continue; /* causal: the group sees none of these keys */
            for (int s0 = 0; s0 < nj; s0 += SCORE_TILE) {
                int nv = (min_int(SCORE_TILE, nj - s0) + 15) / 16;
                hv->fk->scores(nv, qr, hv->kt, hv->ldk, j0 + s0, hv->d, st->p, s0);
            }
            int rows = min_int(ROWS, n - g);
            for (int r = 0; r < rows; r++)
                softmax_update(st, g + r, r, nj, limit[r] - j0, ldv, hv->fk);
            for (int r = rows; r < ROWS; r++) /* repeated rows add nothing */
                for (int v = 0; v < KEY_TILE; v += 16)
                    _mm512_store_ps(st->p[r] + v, _mm512_setzero_ps());
            float *o = st->o + (size_t)g * ldv;
            if (rows == ROWS) {
                hv->fk->pv(o, ldv, (const float (*)[KEY_TILE])st->p, hv->vp, j0, nj);
            } else { /* a partial group accumulates into spare rows past the block's end */
                float *spare = st->o + (size_t)BLOCK * ldv;
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < ldv; c += 16)
                        _mm512_store_ps(spare + (size_t)r * ldv + c,
                                        _mm512_load_ps(o + (size_t)r * ldv + c));
                hv->fk->pv(spare, ldv, (const float (*)[KEY_TILE])st->p, hv->vp, j0, nj);
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < ldv; c += 16)
                        _mm512_store_ps(o + (size_t)r * ldv + c,
                                        _mm512_load_ps(spare + (size_t)r * ldv + c));
            }
        }
    }
    for (int r = 0; r < n; r++) {
        __m512 inv = _mm512_set1_ps(1.0f / st->sum[r]);
        float *dst = out + (size_t)(i0 + r) * out_stride;
        for (int c = 0; c < hv->d; c += 16)
            _mm512_mask_storeu_ps(dst + c, sdc_lanes16(hv->d - c),
                                  _mm512_mul_ps(inv, _mm512_load_ps(st->o + (size_t)r * ldv + c)));
    }
}

int sdc_attention_avx512(float *out, const float *q, int q_stride, const float *k,
                         const float *v, int kv_stride, int B, int heads, int Tq, int Tk, int d,
                         float scale, int causal, const sdc_flash_kernels *fk)
{
    if (!fk)
        fk = &f32_kernels;
    int pairs = B * heads, out_stride = heads * d;
    int par = sdc_parallel_worth((size_t)pairs * Tq * Tk * d / 16) && !omp_in_parallel();
    int threads = par ? omp_get_max_threads() : 1;
    /* enough work items to share out and to even out, each covering whole row blocks */
    int blocks = (Tq + BLOCK - 1) / BLOCK;
    int splits = min_int((3 * threads + pairs - 1) / pairs, blocks);
    int items = pairs * splits, ldk = round16(Tk), ldv = round16(d);
    int ldq = fk->pack_queries ? round16((d + 1) / 2) : 0;
    /* per thread: kt [d][ldk], vp [Tk][ldv], accumulators [BLOCK + ROWS][ldv], packed
     * queries [BLOCK][ldq] */
    size_t per_thread = (size_t)d * ldk + (size_t)Tk * ldv + (size_t)(BLOCK + ROWS) * ldv +
                        (size_t)BLOCK * ldq;
    sdc_scratch scratch = sdc_scratch_take((size_t)threads * per_thread);
    if (!scratch.data)
        return -1;
#pragma omp parallel for schedule(dynamic) num_threads(threads) if (threads > 1)
    for (int it = 0; it < items; it++) {
        int b = it / splits / heads, h = it / splits % heads, part = it % splits;
        int q0 = blocks * part / splits * BLOCK;
        int q1 = min_int(Tq, blocks * (part + 1) / splits * BLOCK);
        int keys = causal ? min_int(Tk, q1) : Tk;
        float *mem = scratch.data + (size_t)omp_get_thread_num() * per_thread;
        head_view hv = {q + (size_t)b * Tq * q_stride + (size_t)h * d, q_stride, mem,
                        mem + (size_t)d * ldk, round16(keys), ldv, ldq, Tk, d, causal, fk};
        size_t kv0 = (size_t)b * Tk * kv_stride + (size_t)h * d;
        fk->pack_keys(mem, hv.ldk, k + kv0, kv_stride, keys, d, scale * LOG2E);
        fk->pack_values(mem + (size_t)d * ldk, ldv, v + kv0, kv_stride, keys, d);
        block_state st;
        st.o = mem + (size_t)d * ldk + (size_t)Tk * ldv;
        st.q = st.o + (size_t)(BLOCK + ROWS) * ldv;
        for (int i0 = q0; i0 < q1; i0 += BLOCK)
            attend_block(&hv, &st, out + (size_t)b * Tq * out_stride + (size_t)h * d,
                         out_stride, i0, min_int(BLOCK, q1 - i0));
    }
    sdc_scratch_give(scratch);
    return 0;
}
