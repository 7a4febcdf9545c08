#include <math.h>

#include "ops/attention_impl.h"
#include "ops/cpu.h"
#include "ops/parallel.h"
#include "ops/nn.h"

/* Keys are visited in tiles of KEY_TILE with an online softmax (running max and sum), so the
 * memory per query row is one tile of scores plus the d-wide accumulator. */
enum { KEY_TILE = 128, MAX_HEAD_DIM = SDC_ATTENTION_MAX_HEAD_DIM };

static void attend_row(float *out, const float *q, const float *k, const float *v,
                       int kv_stride, int Tk, int d, float scale)
{
    float scores[KEY_TILE];
    float acc[MAX_HEAD_DIM];
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

void sdc_attention_scalar(float *out, const float *q, int q_stride, const float *k,
                          const float *v, int kv_stride, int B, int heads, int Tq, int Tk, int d,
                          float scale, int causal)
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

void sdc_attention(float *out, const float *q, int q_stride, const float *k, const float *v,
                   int kv_stride, int B, int heads, int Tq, int Tk, int d, float scale,
                   int causal)
{
    if (B <= 0 || heads <= 0 || Tq <= 0 || Tk <= 0 || d <= 0)
        return;
    if (sdc_cpu_level_get() == SDC_CPU_AVX512 &&
        sdc_attention_avx512(out, q, q_stride, k, v, kv_stride, B, heads, Tq, Tk, d, scale,
                             causal) == 0)
        return;
    sdc_attention_scalar(out, q, q_stride, k, v, kv_stride, B, heads, Tq, Tk, d, scale, causal);
}
