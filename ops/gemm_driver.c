#include "ops/gemm_driver.h"

#include <omp.h>
#include <string.h>

#include "ops/cpu.h"
#include "ops/pack_cache.h"
#include "ops/scratch.h"

/* Below this many FLOP a GEMM runs on one thread: waking the team costs more than it saves
 * (and far more when other processes hold the cores). */
#define SERIAL_FLOPS 4.0e6

sdc_a_layout sdc_gemm_a_layout_for(const sdc_operand *A)
{
    return A->kind == SDC_OPERAND_ROWS ? SDC_A_ROWS : SDC_A_K16;
}

const sdc_gemm_kernel *sdc_gemm_kernel_best(sdc_a_layout layout)
{
    switch (sdc_cpu_level_get()) {
    case SDC_CPU_AVX512:
        return sdc_gemm_kernel_avx512(layout);
    case SDC_CPU_AVX2:
        return sdc_gemm_kernel_avx2(layout);
    default:
        return sdc_gemm_kernel_generic(layout);
    }
}

const sdc_gemm_kernel *sdc_gemm_kernel_for_weights(void)
{
    if (sdc_precision_get() == SDC_PRECISION_BF16 && sdc_cpu_has_bf16())
        return sdc_gemm_kernel_bf16();
    return sdc_gemm_kernel_best(SDC_A_ROWS);
}

const sdc_gemm_kernel *sdc_gemm_kernel_for_weight(const sdc_qtype_info *quant)
{
    return quant ? sdc_gemm_kernel_best(SDC_A_ROWS) : sdc_gemm_kernel_for_weights();
}

/* The copy that packs `op`: quantised weights are expanded by sdc_copy_quant. */
static sdc_copy_fn copy_for(const sdc_gemm_kernel *kern, const sdc_operand *op)
{
    return op->quant ? sdc_copy_quant : kern->copy;
}

static int round_up(int x, int to) { return (x + to - 1) / to * to; }
static int min_int(int a, int b) { return a < b ? a : b; }

/* Rows the A layout packs together: zero padding fills each group. */
static int a_group(const sdc_gemm_kernel *kern)
{
    return kern->a_layout == SDC_A_K16 ? 16 : kern->mr;
}

/* Packed slots holding kc values of k. */
static int k_slots(const sdc_gemm_kernel *kern, int kc)
{
    return (kc + kern->k_pack - 1) / kern->k_pack;
}

/* Floats of A block row `row` (a multiple of mr) from the block start. */
static size_t a_offset(const sdc_gemm_kernel *kern, int row, int kc)
{
    if (kern->a_layout == SDC_A_ROWS)
        return (size_t)row * kern->a_stride;
    return (size_t)(row / 16) * kc * 16 + row % 16;
}

enum { FOLD_MAX = 8 }; /* batch items per work item at most (fold_items) */

/* The problem as the threads see it. */
typedef struct gemm_job {
    const sdc_gemm_kernel *kern;
    int M, N, K, MC, NC, KC;
    float alpha;
    const sdc_operand *A, *B;
    float *C;
    size_t ldc, c_batch_stride;
    int accumulate;
    const float *row_bias, *col_bias;
    /* non-NULL: A already in the kernel's A blocks, [a batches][K blocks][M rows][a_stride]
     * (see pre_pack_a), batch item b at b * a_item; the items read their blocks there
     * instead of packing them */
    const float *a_packed;
    int a_rows; /* rows of a K block of a_packed: M rounded up to whole row groups */
    size_t a_item;
    /* non-NULL: B's packed copy (ops/pack_cache.h), a packed operand or B packed up front
     * (pre_pack_b),
     * [K blocks][panels][kc slots][nr], K block kb at kb * b_block, batch item b at
     * b * b_item */
    const float *b_packed;
    size_t b_block, b_item;
    /* batch items a work item takes together (see fold_items), and the floats between
     * their B blocks in the item's buffer */
    int fold;
    size_t b_floats;
} gemm_job;

/* Packs B columns [j0, j0 + nc) x [k0, k0 + kc) as [nc / nr][kc][nr]. */
static void pack_b_block(const gemm_job *g, size_t b, float *dst, int j0, int nc, int k0, int kc)
{
    int nr = g->kern->nr;
    if (!g->B->quant && g->kern->pack_b && g->kern->pack_b(g->B, b, j0, nc, k0, kc, dst, nr))
        return; /* (kernels with k_pack > 1 always pack their own B) */
    for (int p = 0; p * nr < nc; p++) {
        float *d = dst + (size_t)p * kc * nr;
        int n = min_int(nr, nc - p * nr);
        copy_for(g->kern, g->B)(g->B, b, j0 + p * nr, n, k0, kc, d, 1, nr);
        if (n < nr)
            for (int k = 0; k < kc; k++)
                memset(d + (size_t)k * nr + n, 0, sizeof(float) * (nr - n));
    }
}

/* Packs A rows [i0, i0 + mc) x [k0, k0 + kc) in the kernel's A layout. */
static void pack_a_block(const gemm_job *g, size_t b, float *dst, int i0, int mc, int k0, int kc)
{
    const sdc_gemm_kernel *kern = g->kern;
    int grp = a_group(kern);
    for (int p = 0; p * grp < mc; p++) {
        int m = min_int(grp, mc - p * grp);
        float *d = dst + a_offset(kern, p * grp, kc);
        if (kern->a_layout == SDC_A_ROWS) {
            copy_for(kern, g->A)(g->A, b, i0 + p * grp, m, k0, kc, d, kern->a_stride, 1);
            for (int r = m; r < grp; r++)
                memset(d + (size_t)r * kern->a_stride, 0, sizeof(float) * k_slots(kern, kc));
        } else {
            copy_for(kern, g->A)(g->A, b, i0 + p * grp, m, k0, kc, d, 1, 16);
            if (m < 16)
                for (int k = 0; k < kc; k++)
                    memset(d + (size_t)k * 16 + m, 0, sizeof(float) * (16 - m));
        }
    }
}

/* All micro-tiles of one (A block, B block) pair: each B micro-panel stays in L1 while the
 * A block (in L2) streams past it. */
static void run_tiles(const sdc_gemm_kernel *kern, const float *abuf, const float *bbuf,
                      float *c, size_t ldc, int mc, int nc, int kc, const sdc_epilogue *ep)
{
    int mr = kern->mr, nr = kern->nr;
    for (int jr = 0; jr * nr < nc; jr++)
        for (int ir = 0; ir * mr < mc; ir++) {
            sdc_epilogue tile_ep = *ep;
            tile_ep.row_bias = ep->row_bias ? ep->row_bias + ir * mr : NULL;
            tile_ep.col_bias = ep->col_bias ? ep->col_bias + jr * nr : NULL;
            kern->micro(kc, abuf + a_offset(kern, ir * mr, kc),
                        bbuf + (size_t)jr * k_slots(kern, kc) * nr,
                        c + (size_t)ir * mr * ldc + (size_t)jr * nr, ldc,
                        min_int(mr, mc - ir * mr), min_int(nr, nc - jr * nr), &tile_ep);
        }
}

/* One work item: C rows [m0, m1) x columns [n0, n1) of batch items b0 .. b0 + nb - 1 (nb
 * > 1 only when they share A: each A block is then packed once for all of them), with the
 * calling thread's private packing buffers (threads never wait for each other inside a
 * GEMM). */
static void gemm_rect(const gemm_job *g, size_t b0, int nb, int m0, int m1, int n0, int n1,
                      float *abuf, float *bbuf)
{
    for (int jc = n0; jc < n1; jc += g->NC) {
        int nc = min_int(g->NC, n1 - jc);
        for (int pc = 0; pc < g->K; pc += g->KC) {
            int kc = min_int(g->KC, g->K - pc);
            const float *bp[FOLD_MAX];
            for (int i = 0; i < nb; i++) {
                size_t b = b0 + i;
                bp[i] = bbuf + i * g->b_floats;
                if (g->b_packed)
                    bp[i] = g->b_packed + b * g->b_item + (size_t)(pc / g->KC) * g->b_block +
                            (size_t)(jc / g->kern->nr) * k_slots(g->kern, kc) * g->kern->nr;
                else
                    pack_b_block(g, b, bbuf + i * g->b_floats, jc, nc, pc, kc);
            }
            for (int ic = m0; ic < m1; ic += g->MC) {
                int mc = min_int(g->MC, m1 - ic);
                sdc_epilogue ep = {g->alpha, g->accumulate || pc > 0,
                                   g->row_bias && pc == 0 ? g->row_bias + ic : NULL,
                                   g->col_bias && pc == 0 ? g->col_bias + jc : NULL};
                const float *a = abuf;
                if (g->a_packed)
                    a = g->a_packed + b0 * g->a_item +
                        ((size_t)(pc / g->KC) * g->a_rows + ic) * g->kern->a_stride;
                else
                    pack_a_block(g, b0, abuf, ic, mc, pc, kc);
                for (int i = 0; i < nb; i++)
                    run_tiles(g->kern, a, bp[i],
                              g->C + (b0 + i) * g->c_batch_stride + (size_t)ic * g->ldc + jc,
                              g->ldc, mc, nc, kc, &ep);
            }
        }
    }
}

/* Start of chunk t of n chunks over [0, size), on multiples of `unit`. */
static int chunk_start(int size, int unit, int n, int t)
{
    int units = (size + unit - 1) / unit;
    return min_int(size, (int)((long)units * t / n) * unit);
}

/* K = 0: C = (C if accumulate) + biases. */
static void gemm_empty(int batch, int M, int N, float *C, size_t ldc, size_t c_batch_stride,
                       int accumulate, const float *row_bias, const float *col_bias)
{
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < M; i++) {
            float *c = C + b * c_batch_stride + (size_t)i * ldc;
            for (int j = 0; j < N; j++)
                c[j] = (accumulate ? c[j] : 0.0f) + (row_bias ? row_bias[i] : 0.0f) +
                       (col_bias ? col_bias[j] : 0.0f);
        }
}

/* Last resort when no packing memory is left: slow, but needs only the stack. */
static void gemm_unpacked(const gemm_job *g, int batch)
{
    enum { CHUNK = 64 };
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < g->M; i++) {
            float arow[CHUNK], bcol[CHUNK];
            float *c = g->C + b * g->c_batch_stride + (size_t)i * g->ldc;
            for (int j = 0; j < g->N; j++) {
                double acc = 0;
                for (int k0 = 0; k0 < g->K; k0 += CHUNK) {
                    int kc = min_int(CHUNK, g->K - k0);
                    sdc_copy_generic(g->A, b, i, 1, k0, kc, arow, 1, 1);
                    sdc_copy_generic(g->B, b, j, 1, k0, kc, bcol, 1, 1);
                    for (int k = 0; k < kc; k++)
                        acc += (double)arow[k] * bcol[k];
                }
                c[j] = g->alpha * (float)acc + (g->accumulate ? c[j] : 0.0f) +
                       (g->row_bias ? g->row_bias[i] : 0.0f) +
                       (g->col_bias ? g->col_bias[j] : 0.0f);
            }
        }
}

/* Work items: a grid of M x N chunks per batch item, a few per thread so that a thread
 * slowed down by other processes holds up the rest for one item at most. Chunks stay large
 * (>= MIN_COLS columns, >= MIN_ROWS rows) because each item packs its own blocks. */
enum { ITEMS_PER_THREAD = 3, MIN_COLS = 256, MIN_ROWS = 64, FOLD_COLS = 512 };
/* With kernels that multiply bf16 pairs the items copy A as pairs rounded once per call
 * (pre_pairs) but each rounds its own B block, which costs about 1 / (its rows) of its
 * products: when A has few rows (up to PAIR_FEW_ROWS), chunks along N may be narrower, so
 * that fewer items round the same B columns (a linear layer's weights) again. */
enum { PAIR_MIN_COLS = 64, PAIR_FEW_ROWS = 1024 };

/* Batch items that share A (a convolution's weight over a batch of images) and have few
 * columns each are taken together by each work item, up to FOLD_COLS columns: split by
 * batch item, each would convert and pack the whole weight for its few columns (Zen 3, 1280
 * -> 1280 at 8x8, batch 2: packing A 30% of the time). */
static int fold_items(const sdc_operand *A, int batch, int N)
{
    if (A->batch_stride || batch < 2 || N >= MIN_COLS)
        return 1;
    int fold = min_int(FOLD_COLS / N, FOLD_MAX); /* at least 2: N < MIN_COLS */
    return min_int(fold, batch);
}

static void plan_items(const gemm_job *g, int batch, int threads, int *m_chunks, int *n_chunks)
{
    int target = threads > 1 ? ITEMS_PER_THREAD * threads : 1;
    int per_batch = (target + batch - 1) / batch;
    int narrow = g->kern->k_pack == 2 && !g->A->quant && g->M <= PAIR_FEW_ROWS;
    int min_cols = narrow ? PAIR_MIN_COLS : MIN_COLS;
    int nch = g->N / min_cols, mch;
    nch = nch < 1 ? 1 : nch > per_batch ? per_batch : nch;
    mch = (per_batch + nch - 1) / nch;
    mch = min_int(mch, g->M / MIN_ROWS);
    *n_chunks = nch;
    *m_chunks = mch < 1 ? 1 : mch;
}

/* How many times the driver would pack each element of A: once per N block of every work
 * item, and for every batch item when A is shared. */
static int a_packings(const gemm_job *g, int batch, int n_chunks)
{
    int cols = (g->N + n_chunks - 1) / n_chunks;
    int groups = (batch + g->fold - 1) / g->fold; /* (fold > 1 only for a shared A) */
    return (g->A->batch_stride ? 1 : groups) * n_chunks * ((cols + g->NC - 1) / g->NC);
}

/* Whether A is packed once, up front (see pre_pack_a), instead of in every A block of every
 * item: for kernels that multiply pairs, when A would be packed more than once. */
static int pre_pairs(const gemm_job *g, int batch, int n_chunks)
{
    const sdc_operand *A = g->A;
    int has_pairs = A->dtype == SDC_DTYPE_BF16 && A->ld % 2 == 0; /* copied as they are */
    return g->kern->k_pack == 2 && !A->quant && A->kind == SDC_OPERAND_ROWS && !has_pairs &&
           a_packings(g, batch, n_chunks) > 1;
}

/* Rows [i0, i0 + n) (i0 a multiple of the row group) of A's batch item b, K block kb, packed
 * as pack_a_block packs them, at their place in the up-front layout of gemm_job.a_packed:
 * the same rounding and the same blocks, so the products are those of packing A block by
 * block, but each A element is rounded and copied once per call instead of once per work
 * item and N block (for a convolution's weight shared by a batch: once instead of once per
 * batch item), and the items only read it. */
static void pre_pack_a(const gemm_job *g, float *packed, size_t b, int kb, int i0, int n)
{
    int k0 = kb * g->KC, kc = min_int(g->KC, g->K - k0);
    size_t block = (b * ((g->K + g->KC - 1) / g->KC) + kb) * (size_t)g->a_rows;
    pack_a_block(g, b, packed + (block + i0) * g->kern->a_stride, i0, n, k0, kc);
}

/* Panels of B's cache packed together: 256 columns, the width of pack_b's blocks at least. */
enum { B_CACHE_PANELS = 8 };

/* Whether op is a weight whose packed copy this kernel keeps (see ops/pack_cache.h). */
static int cacheable(const sdc_gemm_kernel *kern, const sdc_operand *op)
{
    return kern->k_pack == 2 && op->pack && op->kind == SDC_OPERAND_ROWS && !op->quant &&
           !op->batch_stride;
}

static int cache_holds(const sdc_pack_cache *c, const sdc_gemm_kernel *kern, int side,
                       const void *src, int rows, int cols)
{
    return c->kern == kern && c->data && c->src == src && c->side == side && c->rows == rows &&
           c->cols == cols;
}

/* Records what c now holds, and lets the source's pages go. */
static void cache_mark(sdc_pack_cache *c, const sdc_gemm_kernel *kern, int side,
                       const sdc_operand *op, int rows, int cols)
{
    c->kern = kern;
    c->src = op->data;
    c->side = side;
    c->rows = rows;
    c->cols = cols;
    if (c->release_source)
        c->release_source(c->release_ctx, op->data,
                          (size_t)rows * op->ld * sdc_dtype_size(op->dtype));
}

/* Group `grp` of B_CACHE_PANELS panels of K block kb of batch item b into a packed copy of B
 * (B's cache, or the up-front copy of pre_pack_b), as pack_b_block packs any block that
 * contains them (panels are packed independently of each other). */
static void pack_b_group(const gemm_job *g, float *packed, size_t b, int kb, int grp)
{
    int nr = g->kern->nr, j0 = grp * B_CACHE_PANELS * nr;
    int k0 = kb * g->KC, kc = min_int(g->KC, g->K - k0);
    pack_b_block(g, b, packed + b * g->b_item + (size_t)kb * g->b_block +
                           (size_t)(j0 / nr) * k_slots(g->kern, kc) * nr,
                 j0, min_int(B_CACHE_PANELS * nr, g->N - j0), k0, kc);
}

/* B packed once, up front, instead of by every item, for kernels that multiply pairs (whose
 * packing rounds every value) and for im2col columns (gathered value by value): when A is
 * split into several chunks of rows, each item would pack the same B blocks again (a
 * convolution at 16x16 or 8x8, whose few output pixels leave its output channels to split:
 * 6 roundings of each im2col block on 2 threads; 10-13% of such a layer at batch 1; on Zen 3
 * in f32, 1280 -> 1280 at 8x8, batch 2, with the images folded: 46 -> 38 ms), and while the
 * copy stays small (floats for all batch items). Otherwise the f32 kernels' packing only
 * copies: there a packed block fresh in L2 is worth as much. */
enum { PRE_B_MAX_FLOATS = 8 << 20 };

static int pre_pack_b(const gemm_job *g, int m_chunks, size_t floats)
{
    int costly = g->kern->k_pack == 2 || g->B->kind == SDC_OPERAND_IM2COL;
    return costly && m_chunks > 1 && !g->b_packed && floats <= PRE_B_MAX_FLOATS;
}

sdc_packed_map sdc_packed_a_map(const sdc_gemm_kernel *kern, int M, int K)
{
    int kc = min_int(kern->kc, K), blocks = (K + kc - 1) / kc, rows = round_up(M, kern->mr);
    size_t block = (size_t)rows * kern->a_stride;
    return (sdc_packed_map){block * blocks, block, kc, K, 0, kern->a_stride, rows};
}

/* Whole K blocks, then the last one only as deep as it is. */
sdc_packed_map sdc_packed_b_map(const sdc_gemm_kernel *kern, int N, int K)
{
    int kc = min_int(kern->kc, K), blocks = (K + kc - 1) / kc, cols = round_up(N, kern->nr);
    size_t block = (size_t)cols * k_slots(kern, kc);
    size_t last = (size_t)cols * k_slots(kern, K - (blocks - 1) * kc);
    return (sdc_packed_map){block * (blocks - 1) + last, block, kc, K, 1, kern->nr, cols};
}

void sdc_gemm_run(const sdc_gemm_kernel *kern, int batch, int M, int N, int K, float alpha,
                  const sdc_operand *A, const sdc_operand *B, float *C, size_t ldc,
                  size_t c_batch_stride, int accumulate, const float *row_bias,
                  const float *col_bias)
{
    if (M <= 0 || N <= 0 || batch <= 0)
        return;
    if (K <= 0) {
        gemm_empty(batch, M, N, C, ldc, c_batch_stride, accumulate, row_bias, col_bias);
        return;
    }
    gemm_job g = {kern, M, N, K, 0, 0, 0, alpha, A, B, C, ldc, c_batch_stride, accumulate,
                  row_bias, col_bias, NULL, 0, 0, NULL, 0, 0, fold_items(A, batch, N), 0};
    double flops = 2.0 * batch * M * N * (double)K;
    int threads = omp_in_parallel() || flops < SERIAL_FLOPS ? 1 : omp_get_max_threads();
    int m_chunks, n_chunks, groups = (batch + g.fold - 1) / g.fold;
    plan_items(&g, groups, threads, &m_chunks, &n_chunks);
    int items = groups * m_chunks * n_chunks;
    threads = min_int(threads, items);
    g.KC = min_int(kern->kc, K);
    g.NC = min_int(kern->nc, round_up((N + n_chunks - 1) / n_chunks, kern->nr));
    g.MC = min_int(kern->mc, round_up((M + m_chunks - 1) / m_chunks, a_group(kern)));
    size_t a_floats = kern->a_layout == SDC_A_ROWS ? (size_t)g.MC * kern->a_stride
                                                   : (size_t)round_up(g.MC, 16) * g.KC;
    g.b_floats = (size_t)round_up(g.NC, kern->nr) * k_slots(kern, g.KC);
    size_t per_thread = a_floats + g.fold * g.b_floats;
    /* A packed up front, [a_batches][K blocks][a_rows][a_stride] after the threads' buffers
     * (the A layout is rows, as for every kernel that multiplies pairs), or into A's cache */
    int a_batches = A->batch_stride ? batch : 1, k_blocks = (K + g.KC - 1) / g.KC;
    sdc_packed_map a_map = sdc_packed_a_map(kern, M, K), b_map = sdc_packed_b_map(kern, N, K);
    g.a_rows = a_map.rows;
    size_t pre_floats = (size_t)a_batches * a_map.floats;
    g.a_item = A->batch_stride ? a_map.floats : 0;
    float *a_cache = NULL, *b_cache = NULL;
    int pre = pre_pairs(&g, batch, n_chunks) && kern->a_layout == SDC_A_ROWS;
    if (A->kind == SDC_OPERAND_PACKED) /* (sdc_packed_a_map: a_item is its floats) */
        g.a_packed = A->data, g.a_item = A->batch_stride;
    if (cacheable(kern, A) && kern->a_layout == SDC_A_ROWS) {
        if (cache_holds(A->pack, kern, 0, A->data, M, K))
            g.a_packed = A->pack->data, pre = 0;
        else if ((a_cache = sdc_pack_cache_alloc(A->pack, pre_floats * sizeof(float))))
            pre = 1;
    }
    int panels = (N + kern->nr - 1) / kern->nr;
    g.b_block = b_map.block;
    if (B->kind == SDC_OPERAND_PACKED)
        g.b_packed = B->data, g.b_item = B->batch_stride;
    if (cacheable(kern, B) && kern->pack_b) {
        if (cache_holds(B->pack, kern, 1, B->data, N, K))
            g.b_packed = B->pack->data;
        else if ((b_cache = sdc_pack_cache_alloc(B->pack, b_map.floats * sizeof(float))))
            g.b_packed = b_cache;
    }
    int b_batches = B->batch_stride ? batch : 1;
    size_t pre_b_floats = (size_t)b_batches * b_map.floats;
    int pre_b = pre_pack_b(&g, m_chunks, pre_b_floats);
    size_t pre_a_floats = pre && !a_cache ? pre_floats : 0;
    sdc_scratch scratch =
        sdc_scratch_take(per_thread * threads + pre_a_floats + (pre_b ? pre_b_floats : 0));
    if (!scratch.data) {
        gemm_unpacked(&g, batch);
        return; /* (a cache allocated above stays empty: its kern is NULL) */
    }
    float *pre_buf = a_cache ? a_cache : scratch.data + per_thread * threads;
    float *pre_b_buf = pre_b ? scratch.data + per_thread * threads + pre_a_floats : NULL;
    if (pre_b)
        g.b_packed = pre_b_buf, g.b_item = B->batch_stride ? b_map.floats : 0;
    /* rows packed together: whole row groups, so that only the last group is padded */
    int pre_rows = round_up(64, kern->mr), row_blocks = (M + pre_rows - 1) / pre_rows;
    int b_groups = (panels + B_CACHE_PANELS - 1) / B_CACHE_PANELS;
    g.a_packed = pre ? pre_buf : g.a_packed;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        if (pre) {
#pragma omp for schedule(static)
            for (int it = 0; it < a_batches * k_blocks * row_blocks; it++) {
                int i0 = it % row_blocks * pre_rows, kb = it / row_blocks % k_blocks;
                pre_pack_a(&g, pre_buf, (size_t)(it / row_blocks / k_blocks), kb, i0,
                           min_int(pre_rows, M - i0));
            }
        } /* (the loop's closing barrier: every block is packed before the items read it) */
        if (b_cache || pre_b) {
#pragma omp for schedule(static)
            for (int it = 0; it < b_batches * k_blocks * b_groups; it++)
                pack_b_group(&g, b_cache ? b_cache : pre_b_buf, (size_t)(it / b_groups / k_blocks),
                             it / b_groups % k_blocks, it % b_groups);
        }
#pragma omp for schedule(dynamic, 1)
        for (int it = 0; it < items; it++) {
            int b = it / (m_chunks * n_chunks) * g.fold, mi = it / n_chunks % m_chunks;
            int ni = it % n_chunks;
            int m0 = chunk_start(M, kern->mr, m_chunks, mi);
            int m1 = chunk_start(M, kern->mr, m_chunks, mi + 1);
            int n0 = chunk_start(N, kern->nr, n_chunks, ni);
            int n1 = chunk_start(N, kern->nr, n_chunks, ni + 1);
            float *abuf = scratch.data + per_thread * omp_get_thread_num();
            if (m1 > m0 && n1 > n0)
                gemm_rect(&g, (size_t)b, min_int(g.fold, batch - b), m0, m1, n0, n1, abuf,
                          abuf + a_floats);
        }
    }
    sdc_scratch_give(scratch);
    if (a_cache)
        cache_mark(A->pack, kern, 0, A, M, K);
    if (b_cache)
        cache_mark(B->pack, kern, 1, B, N, K);
}
