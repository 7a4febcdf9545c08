/* sdc_attention: the flash kernel (ops/attention_flash.c) on the AVX-512 or AVX2 kernels
 * where the CPU has them; elsewhere blocks of ROWS query rows at a time, as three calls on
 * the level's own kernels:
 *   S [rows, Tk] = scale * Q K^T   (the packed GEMM)
 *   S = softmax(S) by rows         (sdc_softmax_rows; causal rows see keys j <= i only)
 *   O [rows, d]  = S V             (the packed GEMM)
 * so a thread holds ROWS x Tk scores, never the whole matrix. */
#include <math.h>
#include <omp.h>

#include "ops/attention_impl.h"
#include "ops/cpu.h"
#include "ops/gemm_driver.h"
#include "ops/nn.h"
#include "ops/parallel.h"
#include "ops/profile.h"
#include "ops/scratch.h"

enum { ROWS = 64 };

static int min_int(int a, int b) { return a < b ? a : b; }

/* Query rows i0 .. i0 + n of head h of batch item b; s holds n x Tk scores. */
static void attend_block(float *out, const float *q, int q_stride, const float *k,
                         const float *v, int kv_stride, int heads, int Tq, int Tk, int d,
                         float scale, int causal, int b, int h, int i0, int n, float *s)
{
    const sdc_gemm_kernel *kern = sdc_gemm_kernel_best(SDC_A_ROWS);
    size_t kv0 = (size_t)b * Tk * kv_stride + (size_t)h * d;
    int keys = causal ? min_int(Tk, i0 + n) : Tk;
    /* scores (i, j) = q_i . k_j: A = query rows, B = key rows (both k-contiguous) */
    sdc_operand qa = {.kind = SDC_OPERAND_ROWS, .dtype = SDC_DTYPE_F32,
                      .data = q + ((size_t)b * Tq + i0) * q_stride + (size_t)h * d,
                      .ld = (size_t)q_stride};
    sdc_operand kb = {.kind = SDC_OPERAND_ROWS, .dtype = SDC_DTYPE_F32, .data = k + kv0,
                      .ld = (size_t)kv_stride};
    sdc_gemm_run(kern, 1, n, keys, d, scale, &qa, &kb, s, (size_t)keys, 0, 0, NULL, NULL);
    if (causal)
        for (int r = 0; r < n; r++)
            for (int j = i0 + r + 1; j < keys; j++)
                s[(size_t)r * keys + j] = -INFINITY;
    sdc_softmax_rows(s, n, keys);
    /* out (i, c) = sum_j p_ij v_jc: A = probability rows, B (c, j) = v[j][c] column-major */
    sdc_operand pa = {.kind = SDC_OPERAND_ROWS, .dtype = SDC_DTYPE_F32, .data = s,
                      .ld = (size_t)keys};
    sdc_operand vb = {.kind = SDC_OPERAND_COLS, .dtype = SDC_DTYPE_F32, .data = v + kv0,
                      .ld = (size_t)kv_stride};
    float *o = out + ((size_t)b * Tq + i0) * heads * d + (size_t)h * d;
    sdc_gemm_run(kern, 1, n, d, keys, 1.0f, &pa, &vb, o, (size_t)heads * d, 0, 0, NULL, NULL);
}

int sdc_attention_blocked(float *out, const float *q, int q_stride, const float *k,
                          const float *v, int kv_stride, int B, int heads, int Tq, int Tk, int d,
                          float scale, int causal)
{
    int blocks = (Tq + ROWS - 1) / ROWS, items = B * heads * blocks;
    int par = sdc_parallel_worth((size_t)items * ROWS * Tk * d / 16) && !omp_in_parallel();
    int threads = par ? omp_get_max_threads() : 1;
    size_t per_thread = (size_t)min_int(ROWS, Tq) * Tk;
    sdc_scratch scratch = sdc_scratch_take((size_t)threads * per_thread);
    if (!scratch.data)
        return -1;
#pragma omp parallel for schedule(dynamic) num_threads(threads) if (threads > 1)
    for (int it = 0; it < items; it++) {
        int b = it / blocks / heads, h = it / blocks % heads, i0 = it % blocks * ROWS;
        attend_block(out, q, q_stride, k, v, kv_stride, heads, Tq, Tk, d, scale, causal, b, h,
                     i0, min_int(ROWS, Tq - i0),
                     scratch.data + per_thread * (size_t)omp_get_thread_num());
    }
    sdc_scratch_give(scratch);
    return 0;
}

/* One query row at a time with an online softmax over tiles of keys, in a few floats of
 * stack: the last resort when no scratch memory is left. */
enum { KEY_TILE = 128 };

static void attend_row(float *out, const float *q, const float *k, const float *v,
                       int kv_stride, int Tk, int d, float scale)
{
    float scores[KEY_TILE];
    float acc[SDC_ATTENTION_MAX_HEAD_DIM];
    float running_max = -INFINITY;
    double running_sum = 0;
    for (int c = 0; c < d; c++)
        acc[c] = 0;
    for (int j0 = 0; j0 < Tk; j0 += KEY_TILE) {
        int nj = Tk - j0 < KEY_TILE ? Tk - j0 : KEY_TILE;
        float tile_max = -INFINITY;
        for (int j = 0; j < nj; j++) {
            const float *kj = k + (size_t)(j0 + j) * kv_stride;
            float s = 0;
            for (int c = 0; c < d; c++)
                s += q[c] * kj[c];
            scores[j] = s * scale;
            tile_max = scores[j] > tile_max ? scores[j] : tile_max;
        }
        float new_max = tile_max > running_max ? tile_max : running_max;
        float rescale = expf(running_max - new_max); /* 0 on the first tile */
        running_sum *= rescale;
        for (int c = 0; c < d; c++)
            acc[c] *= rescale;
        for (int j = 0; j < nj; j++) {
            float p = expf(scores[j] - new_max);
            const float *vj = v + (size_t)(j0 + j) * kv_stride;
            running_sum += p;
            for (int c = 0; c < d; c++)
                acc[c] += p * vj[c];
        }
        running_max = new_max;
    }
    float inv = (float)(1.0 / running_sum);
    for (int c = 0; c < d; c++)
        out[c] = acc[c] * inv;
}

static void attention_rows(float *out, const float *q, int q_stride, const float *k,
                           const float *v, int kv_stride, int B, int heads, int Tq, int Tk,
                           int d, float scale, int causal)
{
    int out_stride = heads * d;
    size_t work = (size_t)B * heads * Tq * Tk * d;
#pragma omp parallel for schedule(static) collapse(3) if (sdc_parallel_worth(work))
    for (int b = 0; b < B; b++)
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < Tq; i++) {
                const float *qi = q + ((size_t)b * Tq + i) * q_stride + (size_t)h * d;
                const float *kb = k + (size_t)b * Tk * kv_stride + (size_t)h * d;
                const float *vb = v + (size_t)b * Tk * kv_stride + (size_t)h * d;
                float *o = out + ((size_t)b * Tq + i) * out_stride + (size_t)h * d;
                attend_row(o, qi, kb, vb, kv_stride, causal ? i + 1 : Tk, d, scale);
            }
}

static void attention_run(float *out, const float *q, int q_stride, const float *k,
                          const float *v, int kv_stride, int B, int heads, int Tq, int Tk, int d,
                          float scale, int causal)
{
    if (B <= 0 || heads <= 0 || Tq <= 0 || Tk <= 0 || d <= 0)
        return;
    /* bf16 precision multiplies in bf16 here too (QK^T and PV; softmax and sums in f32) */
    sdc_cpu_level level = sdc_cpu_level_get();
    const sdc_flash_kernels *fk =
        level == SDC_CPU_AVX512 ? (sdc_precision_get() == SDC_PRECISION_BF16 && sdc_cpu_has_bf16()
                                       ? sdc_flash_kernels_bf16()
                                       : sdc_flash_kernels_avx512())
        : level == SDC_CPU_AVX2 ? sdc_flash_kernels_avx2()
                                : NULL;
    if (fk && sdc_attention_flash(out, q, q_stride, k, v, kv_stride, B, heads, Tq, Tk, d, scale,
                                  causal, fk) == 0)
        return;
    if (sdc_attention_blocked(out, q, q_stride, k, v, kv_stride, B, heads, Tq, Tk, d, scale,
                              causal) == 0)
        return;
    attention_rows(out, q, q_stride, k, v, kv_stride, B, heads, Tq, Tk, d, scale, causal);
}

void sdc_attention(float *out, const float *q, int q_stride, const float *k, const float *v,
                   int kv_stride, int B, int heads, int Tq, int Tk, int d, float scale,
                   int causal)
{
    sdc_prof_mark m = sdc_profile_begin();
    attention_run(out, q, q_stride, k, v, kv_stride, B, heads, Tq, Tk, d, scale, causal);
    sdc_profile_end(SDC_PROF_ATTENTION, m);
}
