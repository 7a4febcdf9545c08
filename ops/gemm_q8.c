/* The int8 GEMM's driver and its scalar reference kernel (see gemm_q8.h). */
#include "ops/gemm_q8.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "ops/cpu.h"
#include "ops/dtype.h"
#include "ops/q8_unpack.h"
#include "ops/scratch.h"

/* ---- scalar reference ------------------------------------------------------------------ */

/* ggml's q8_0 rule with an f32 scale; NaN (and only NaN: |x / d| <= 127) saturates to -128,
 * as vcvtps2dq + vpmovsdb do. A block holding a NaN gets the scale NaN, so that every output
 * it reaches is NaN, as in fp32 (the pipeline then reports a non-finite result instead of
 * drawing a picture from it). */
static void quantize_scalar(const float *x, int K, int8_t *q, float *d, int32_t *corr)
{
    for (int b = 0; b < K / SDC_Q8_BLOCK; b++) {
        const float *xb = x + b * SDC_Q8_BLOCK;
        float amax = 0.0f;
        int nan = 0;
        for (int t = 0; t < SDC_Q8_BLOCK; t++) {
            amax = fmaxf(amax, fabsf(xb[t]));
            nan |= isnan(xb[t]);
        }
        float db = nan ? NAN : amax / 127.0f, id = db != 0.0f ? 1.0f / db : 0.0f;
        int32_t sum = 0;
        for (int t = 0; t < SDC_Q8_BLOCK; t++) {
            float v = rintf(xb[t] * id);
            int qi = v >= -128.0f ? (v <= 127.0f ? (int)v : 127) : -128;
            q[b * SDC_Q8_BLOCK + t] = (int8_t)qi;
            sum += qi;
        }
        d[b] = db;
        corr[b] = -128 * sum;
    }
}

/* Panel: [K / 32][nr][32] int8 as stored, then [K / 32][nr] scales. */
static void pack_scalar(const uint8_t *w, size_t row_bytes, int n, int K, int nr, uint8_t *dst)
{
    int nb = K / SDC_Q8_BLOCK;
    float *dd = (float *)(dst + (size_t)K * nr);
    for (int b = 0; b < nb; b++)
        for (int j = 0; j < nr; j++) {
            uint8_t *q = dst + ((size_t)b * nr + j) * SDC_Q8_BLOCK;
            if (j >= n) {
                memset(q, 0, SDC_Q8_BLOCK);
                dd[(size_t)b * nr + j] = 0.0f;
                continue;
            }
            const uint8_t *blk = w + (size_t)j * row_bytes + (size_t)b * SDC_Q8_BLOCK_BYTES;
            uint16_t h;
            memcpy(&h, blk, 2);
            dd[(size_t)b * nr + j] = sdc_f16_to_f32(h);
            memcpy(q, blk + 2, SDC_Q8_BLOCK);
        }
}

/* The epilogue in the order of the AVX-512 kernels' store_tile (ops/gemm_avx512.h). */
static float store_value(float acc, const float *c, int i, int j, const sdc_epilogue *ep)
{
    float bias = (ep->row_bias ? ep->row_bias[i] : 0.0f) + (ep->col_bias ? ep->col_bias[j] : 0.0f);
    return fmaf(acc, ep->alpha, (ep->accumulate ? *c : 0.0f) + bias);
}

enum { SCALAR_MR = 4, SCALAR_NR = 16 };

static void micro_scalar(int K, const int8_t *q, size_t lda, const float *d, const int32_t *corr,
                         size_t ldd, const uint8_t *panel, float *c, size_t ldc, int m, int n,
                         const sdc_epilogue *ep)
{
    (void)corr;
    int nb = K / SDC_Q8_BLOCK;
    const float *dd = (const float *)(panel + (size_t)K * SCALAR_NR);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int b = 0; b < nb; b++) {
                const int8_t *x = q + i * lda + (size_t)b * SDC_Q8_BLOCK;
                const int8_t *w =
                    (const int8_t *)panel + ((size_t)b * SCALAR_NR + j) * SDC_Q8_BLOCK;
                int32_t isum = 0;
                for (int t = 0; t < SDC_Q8_BLOCK; t++)
                    isum += (int32_t)x[t] * w[t];
                acc = fmaf((float)isum, dd[(size_t)b * SCALAR_NR + j] * d[i * ldd + b], acc);
            }
            float *cij = c + i * ldc + j;
            *cij = store_value(acc, cij, i, j, ep);
        }
}

const sdc_q8_kernel *sdc_q8_kernel_scalar(void)
{
    static const sdc_q8_kernel k = {"scalar", SCALAR_MR, SCALAR_NR, quantize_scalar,
                                    pack_scalar, micro_scalar};
    return &k;
}

/* ---- dispatch -------------------------------------------------------------------------- */

static sdc_q8_path path_cap = SDC_Q8_PATH_AVX512_VNNI;

static const char *const path_names[] = {"scalar", "avx2", "avx-vnni", "avx512-vnni"};

const sdc_q8_kernel *sdc_q8_kernel_for(sdc_q8_path path)
{
    switch (path) {
    case SDC_Q8_PATH_SCALAR:
        return sdc_q8_kernel_scalar();
    case SDC_Q8_PATH_AVX2:
        return sdc_cpu_level_get() >= SDC_CPU_AVX2 ? sdc_q8_kernel_avx2() : NULL;
    case SDC_Q8_PATH_AVX_VNNI:
        return sdc_cpu_has_avx_vnni() ? sdc_q8_kernel_avx_vnni() : NULL;
    case SDC_Q8_PATH_AVX512_VNNI:
        return sdc_cpu_has_vnni() ? sdc_q8_kernel_avx512() : NULL;
    }
    return NULL;
}

sdc_q8_path sdc_q8_path_best(void)
{
    int p = (int)path_cap;
    while (p > SDC_Q8_PATH_SCALAR && !sdc_q8_kernel_for((sdc_q8_path)p))
        p--;
    return (sdc_q8_path)p;
}

const sdc_q8_kernel *sdc_q8_kernel_best(void)
{
    return sdc_q8_kernel_for(sdc_q8_path_best());
}

void sdc_q8_set_max_path(sdc_q8_path cap)
{
    path_cap = cap;
}

const char *sdc_q8_path_name(sdc_q8_path path)
{
    return path >= SDC_Q8_PATH_SCALAR && path <= SDC_Q8_PATH_AVX512_VNNI ? path_names[path] : "?";
}

int sdc_q8_path_from_name(const char *name)
{
    for (int p = SDC_Q8_PATH_SCALAR; p <= SDC_Q8_PATH_AVX512_VNNI; p++)
        if (strcmp(name, path_names[p]) == 0)
            return p;
    return -1;
}

/* ---- driver ---------------------------------------------------------------------------- */

/* Below this many MACs one thread does it all (as gemm_driver.c). */
#define SERIAL_MACS 2.0e6

static size_t round64(size_t bytes) { return (bytes + 63) / 64 * 64; }
static int min_int(int a, int b) { return a < b ? a : b; }

/* ---- 4- and 5-bit weights (ops/q8_unpack.h) ------------------------------------------- */

int sdc_gemm_q8_reads(const sdc_qtype_info *wq)
{
    return wq && (wq == sdc_qtype_get(SDC_QTYPE_Q8_0) || sdc_q8_unpacker_for(wq));
}

/* The quantised activations and where each thread's panel goes, in one scratch buffer. */
typedef struct q8_job {
    const sdc_q8_kernel *kern;
    int M, N, K, nb, mc, ng, m_items, n_items;
    int8_t *q;
    float *d;
    int32_t *corr;
    uint8_t *panels;
    size_t panel_bytes;
    const uint8_t *W;
    size_t row_bytes;
    const sdc_q8_unpacker *unpack; /* NULL: W is q8_0 */
    size_t stage_bytes; /* after each thread's panel: its rows unpacked, and their scales */
    float *C;
    size_t ldc;
    sdc_epilogue ep;
} q8_job;

/* Packs rows [j, j + n) of W into the panel. Rows of another type than q8_0 are unpacked
 * into q8_0 rows in `stage` first, and their f32 scales then replace the packed ones: the
 * panel's scales are [K / 32][nr] f32 after its K * nr bytes, for every kernel. */
static void q8_pack(const q8_job *g, int j, int n, uint8_t *panel, uint8_t *stage)
{
    const sdc_q8_kernel *k = g->kern;
    const uint8_t *rows = g->W + (size_t)j * g->row_bytes;
    if (!g->unpack) {
        k->pack(rows, g->row_bytes, n, g->K, k->nr, panel);
        return;
    }
    size_t q8_row = (size_t)g->nb * SDC_Q8_BLOCK_BYTES;
    float *scales = (float *)(void *)(stage + round64(q8_row * k->nr)), offset;
    for (int r = 0; r < n; r++)
        for (int b = 0; b < g->nb; b++) {
            uint8_t *blk = stage + r * q8_row + (size_t)b * SDC_Q8_BLOCK_BYTES;
            g->unpack->block(rows + r * g->row_bytes, b, (int8_t *)(blk + 2),
                             &scales[(size_t)b * k->nr + r], &offset);
            blk[0] = blk[1] = 0;
        }
    k->pack(stage, q8_row, n, g->K, k->nr, panel);
    float *dd = (float *)(void *)(panel + (size_t)g->K * k->nr);
    for (int b = 0; b < g->nb; b++)
        for (int r = 0; r < n; r++)
            dd[(size_t)b * k->nr + r] = scales[(size_t)b * k->nr + r];
}

/* Columns [n0, n1) x rows [m0, m1) with the calling thread's panel buffer. */
static void q8_item(const q8_job *g, uint8_t *panel, int m0, int m1, int n0, int n1)
{
    const sdc_q8_kernel *k = g->kern;
    for (int j = n0; j < n1; j += k->nr) {
        int n = min_int(k->nr, n1 - j);
        q8_pack(g, j, n, panel, panel + g->panel_bytes);
        sdc_epilogue ep = g->ep;
        ep.col_bias = g->ep.col_bias ? g->ep.col_bias + j : NULL;
        for (int i = m0; i < m1; i += k->mr) {
            ep.row_bias = g->ep.row_bias ? g->ep.row_bias + i : NULL;
            k->micro(g->K, g->q + (size_t)i * g->K, (size_t)g->K, g->d + (size_t)i * g->nb,
                     g->corr + (size_t)i * g->nb, (size_t)g->nb, panel,
                     g->C + (size_t)i * g->ldc + j, g->ldc, min_int(k->mr, m1 - i), n, &ep);
        }
    }
}

static void q8_parallel(const q8_job *g, const float *A, size_t lda, int threads)
{
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
#pragma omp for schedule(static)
        for (int i = 0; i < g->M; i++)
            g->kern->quantize(A + (size_t)i * lda, g->K, g->q + (size_t)i * g->K,
                              g->d + (size_t)i * g->nb, g->corr + (size_t)i * g->nb);
        uint8_t *panel = g->panels + (g->panel_bytes + g->stage_bytes) * omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int it = 0; it < g->m_items * g->n_items; it++) {
            int mi = it / g->n_items, ni = it % g->n_items;
            q8_item(g, panel, mi * g->mc, min_int(g->M, (mi + 1) * g->mc), ni * g->ng,
                    min_int(g->N, (ni + 1) * g->ng));
        }
    }
}

/* Rows and columns of a work item: MC_TILES micro-tiles of rows, NG_PANELS panels. */
enum { MC_TILES = 32, NG_PANELS = 4 };

/* C += alpha * sum over blocks of offset(W row j, block b) * dx[i, b] * sum(qx[i, b]): the
 * offsets' part of the product (ops/q8_unpack.h), an f32 GEMM of inner size K / 32 on the
 * activations' block sums (corr = -128 * sum) and the weights' offsets. */
static void add_offsets(const q8_job *g, float *sums, float *offsets)
{
    int8_t q[SDC_Q8_BLOCK];
    float scale;
    for (size_t i = 0; i < (size_t)g->M * g->nb; i++)
        sums[i] = g->d[i] * (float)(g->corr[i] / -128);
    for (int j = 0; j < g->N; j++)
        for (int b = 0; b < g->nb; b++)
            g->unpack->block(g->W + (size_t)j * g->row_bytes, b, q, &scale,
                             &offsets[(size_t)j * g->nb + b]);
    sdc_operand a = {.kind = SDC_OPERAND_ROWS, .dtype = SDC_DTYPE_F32, .data = sums,
                     .ld = (size_t)g->nb};
    sdc_operand w = {.kind = SDC_OPERAND_ROWS, .dtype = SDC_DTYPE_F32, .data = offsets,
                     .ld = (size_t)g->nb};
    sdc_gemm_run(sdc_gemm_kernel_best(SDC_A_ROWS), 1, g->M, g->N, g->nb, g->ep.alpha, &a, &w,
                 g->C, g->ldc, 0, 1, NULL, NULL);
}

int sdc_gemm_q8_run(const sdc_q8_kernel *kern, int M, int N, int K, float alpha,
                    const float *A, size_t lda, const void *W, const sdc_qtype_info *wq,
                    float *C, size_t ldc, int accumulate, const float *col_bias)
{
    if (M <= 0 || N <= 0 || K <= 0 || K % SDC_Q8_BLOCK || !sdc_gemm_q8_reads(wq) ||
        K % wq->block)
        return M <= 0 || N <= 0 ? 0 : -1;
    q8_job g = {.kern = kern, .M = M, .N = N, .K = K, .nb = K / SDC_Q8_BLOCK,
                .mc = kern->mr * MC_TILES, .ng = kern->nr * NG_PANELS, .W = W,
                .row_bytes = (size_t)(K / wq->block) * wq->block_bytes,
                .unpack = sdc_q8_unpacker_for(wq), .C = C, .ldc = ldc,
                .ep = {alpha, accumulate, NULL, col_bias}};
    g.m_items = (M + g.mc - 1) / g.mc;
    g.n_items = (N + g.ng - 1) / g.ng;
    double macs = (double)M * N * K;
    int threads = omp_in_parallel() || macs < SERIAL_MACS ? 1 : omp_get_max_threads();
    threads = min_int(threads, g.m_items * g.n_items);
    size_t q_bytes = round64((size_t)M * K), s_bytes = round64((size_t)M * g.nb * 4);
    g.panel_bytes = round64((size_t)K * kern->nr + (size_t)g.nb * kern->nr * 4);
    /* each thread's unpacked rows and their scales */
    g.stage_bytes = g.unpack ? round64((size_t)g.nb * SDC_Q8_BLOCK_BYTES * kern->nr) +
                                   round64((size_t)g.nb * kern->nr * 4)
                             : 0;
    /* the activations' block sums and the weights' offsets, for add_offsets */
    size_t o_bytes = g.unpack && g.unpack->has_offset ? s_bytes + round64((size_t)N * g.nb * 4)
                                                      : 0;
    size_t total = q_bytes + 2 * s_bytes + (g.panel_bytes + g.stage_bytes) * (size_t)threads;
    sdc_scratch s = sdc_scratch_take((total + o_bytes + 3) / 4);
    if (!s.data)
        return -1;
    uint8_t *base = (uint8_t *)s.data;
    g.q = (int8_t *)base;
    g.d = (float *)(base + q_bytes);
    g.corr = (int32_t *)(base + q_bytes + s_bytes);
    g.panels = base + q_bytes + 2 * s_bytes;
    q8_parallel(&g, A, lda, threads);
    if (o_bytes)
        add_offsets(&g, (float *)(base + total), (float *)(base + total + s_bytes));
    sdc_scratch_give(s);
    return 0;
}
