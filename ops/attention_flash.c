/* Flash-style attention (see ops/attention_impl.h), the loops and the online softmax around a
 * set of vector kernels (sdc_flash_kernels: AVX-512 f32 or bf16, AVX2 f32). Work items are
 * (batch, head, query range). Each packs its head's keys transposed and pre-scaled, tile by
 * tile, kt[tile][c][j] = scale k[tile * KEY_TILE + j][c], and its values with rows padded to
 * whole vectors, then walks blocks of BLOCK query rows: for every tile of KEY_TILE keys, each
 * group of ROWS rows gets its scores as register-blocked products, an online softmax update
 * (running max and sum per row) and the tile's probabilities times V added to its
 * accumulators. Scores are kept in base 2 (log2 e is folded into the key scale), so
 * probabilities are plain powers of two. The key and value tiles stay in L1 while all the
 * block's row groups use them. Memory per thread: one packed head of K and V and the block's
 * accumulators. */
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "ops/attention_impl.h"
#include "ops/parallel.h"
#include "ops/scratch.h"

enum { ROWS = SDC_FLASH_ROWS, KEY_TILE = SDC_FLASH_KEY_TILE, BLOCK = 64 };

#define LOG2E 1.44269504f

static int min_int(int a, int b) { return a < b ? a : b; }

/* n rounded up to whole vectors of the kernels' width */
static int round_lanes(const sdc_flash_kernels *fk, int n)
{
    return (n + fk->lanes - 1) / fk->lanes * fk->lanes;
}

/* The row length of the packed keys for n of them: whole vectors, and an odd number of
 * 64-byte lines, so that the d rows a score tile walks down fall in different sets of the L1
 * cache (rows of 4096 keys, 16 KiB, put all of them in one set: on a 32 KiB 8-way L1 the
 * scores then ran at half the speed of the products with V). The keys are packed a tile at a
 * time, rows of KEY_TILE: a tile's d rows are then contiguous, a few pages instead of one
 * page each (Zen 3, 2 threads: 0.90x of the time at 4096 keys d40, 0.97x at 1024 d80, 0.91x
 * for 77 keys). */
static int keys_ld(const sdc_flash_kernels *fk, int n)
{
    int ld = (round_lanes(fk, n) + 15) / 16 * 16;
    return ld / 16 % 2 ? ld : ld + 16;
}

/* Where the packed keys of the tile starting at key j0 begin (tiles of d rows of ldk). */
static size_t tile_offset(int j0, int d, int ldk)
{
    return (size_t)(j0 / KEY_TILE) * d * ldk;
}

/* One thread's working memory for a block of query rows. */
typedef struct block_state {
    float *o;             /* [BLOCK + ROWS][ldv] running numerators, spare rows last */
    float *q;             /* [BLOCK][ldq] the rows as fk->pack_queries leaves them */
    float max[BLOCK], sum[BLOCK];
    float p[ROWS][KEY_TILE] __attribute__((aligned(64)));
} block_state;

/* Turns the base-2 scores in p[pr] (keys j0 .. j0 + n, the first `valid` usable) into
 * probabilities, rescaling row r's sum and accumulator when its running maximum grows. */
static void softmax_update(block_state *st, int r, int pr, int n, int valid, int ldv,
                           const sdc_flash_kernels *fk)
{
    float *p = st->p[pr];
    float tile_max = fk->tile_max(p, n, valid);
    if (tile_max == -INFINITY) { /* every key of the tile is masked for this row */
        memset(p, 0, (size_t)round_lanes(fk, n) * sizeof(float));
        return;
    }
    if (tile_max > st->max[r]) {
        float rescale = exp2f(st->max[r] - tile_max); /* 0 on the row's first tile */
        st->sum[r] *= rescale;
        st->max[r] = tile_max;
        float *o = st->o + (size_t)r * ldv;
        for (int c = 0; c < ldv; c++)
            o[c] *= rescale;
    }
    st->sum[r] += fk->weights(p, n, st->max[r]);
}

/* The packed head and where its rows live (kt: tiles of d rows of ldk). */
typedef struct head_view {
    const float *q; /* row 0 of the head's queries */
    int q_stride;
    const float *kt, *vp;
    int ldk, ldv, ldq, Tk, d, causal;
    const sdc_flash_kernels *fk;
} head_view;

/* The probabilities of the group at row g (rows valid rows, the rest repeats) times V. */
static void add_values(const head_view *hv, block_state *st, int g, int rows, int j0, int nj)
{
    int ldv = hv->ldv;
    float *o = st->o + (size_t)g * ldv;
    const float (*p)[KEY_TILE] = (const float (*)[KEY_TILE])st->p;
    if (rows == ROWS) {
        hv->fk->pv(o, ldv, p, hv->vp, j0, nj);
        return;
    }
    /* a partial group accumulates into the spare rows past the block's end */
    float *spare = st->o + (size_t)BLOCK * ldv;
    size_t bytes = (size_t)rows * ldv * sizeof(float);
    memcpy(spare, o, bytes);
    hv->fk->pv(spare, ldv, p, hv->vp, j0, nj);
    memcpy(o, spare, bytes);
}

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
    }
    memset(st->o, 0, (size_t)n * ldv * sizeof(float));
    int keys = hv->causal ? min_int(hv->Tk, i0 + n) : hv->Tk;
    for (int j0 = 0; j0 < keys; j0 += KEY_TILE) {
        const float *kt = hv->kt + tile_offset(j0, hv->d, hv->ldk);
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
            hv->fk->scores(nj, qr, kt, hv->ldk, 0, hv->d, st->p);
            int rows = min_int(ROWS, n - g);
            for (int r = 0; r < rows; r++)
                softmax_update(st, g + r, r, nj, limit[r] - j0, ldv, hv->fk);
            for (int r = rows; r < ROWS; r++) /* repeated rows add nothing */
                memset(st->p[r], 0, sizeof st->p[r]);
            add_values(hv, st, g, rows, j0, nj);
        }
    }
    for (int r = 0; r < n; r++) {
        float inv = 1.0f / st->sum[r];
        const float *o = st->o + (size_t)r * ldv;
        float *dst = out + (size_t)(i0 + r) * out_stride;
        for (int c = 0; c < hv->d; c++)
            dst[c] = inv * o[c];
    }
}

int sdc_attention_flash(float *out, const float *q, int q_stride, const float *k, const float *v,
                        int kv_stride, int B, int heads, int Tq, int Tk, int d, float scale,
                        int causal, const sdc_flash_kernels *fk)
{
    int pairs = B * heads, out_stride = heads * d;
    int par = sdc_parallel_worth((size_t)pairs * Tq * Tk * d / 16) && !omp_in_parallel();
    int threads = par ? omp_get_max_threads() : 1;
    /* enough work items to share out and to even out, each covering whole row blocks */
    int blocks = (Tq + BLOCK - 1) / BLOCK;
    int splits = min_int((3 * threads + pairs - 1) / pairs, blocks);
    int items = pairs * splits, ldk = keys_ld(fk, KEY_TILE), ldv = round_lanes(fk, d);
    int tiles = (Tk + KEY_TILE - 1) / KEY_TILE;
    int ldq = fk->pack_queries ? round_lanes(fk, (d + 1) / 2) : 0;
    /* per thread: kt [tiles][d][ldk], vp [Tk][ldv], accumulators [BLOCK + ROWS][ldv], packed
     * queries [BLOCK][ldq] */
    size_t per_thread = (size_t)tiles * d * ldk + (size_t)Tk * ldv +
                        (size_t)(BLOCK + ROWS) * ldv + (size_t)BLOCK * ldq;
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
                        mem + (size_t)tiles * d * ldk, ldk, ldv, ldq, Tk, d, causal, fk};
        size_t kv0 = (size_t)b * Tk * kv_stride + (size_t)h * d;
        for (int j0 = 0; j0 < keys; j0 += KEY_TILE)
            fk->pack_keys(mem + tile_offset(j0, d, ldk), ldk,
                          k + kv0 + (size_t)j0 * kv_stride, kv_stride,
                          min_int(KEY_TILE, keys - j0), d, scale * LOG2E);
        fk->pack_values(mem + (size_t)tiles * d * ldk, ldv, v + kv0, kv_stride, keys, d);
        block_state st;
        st.o = mem + (size_t)tiles * d * ldk + (size_t)Tk * ldv;
        st.q = st.o + (size_t)(BLOCK + ROWS) * ldv;
        for (int i0 = q0; i0 < q1; i0 += BLOCK)
            attend_block(&hv, &st, out + (size_t)b * Tq * out_stride + (size_t)h * d,
                         out_stride, i0, min_int(BLOCK, q1 - i0));
    }
    sdc_scratch_give(scratch);
    return 0;
}
