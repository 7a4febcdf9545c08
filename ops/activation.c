#include <math.h>

#include "ops/avx2.h"
#include "ops/avx512.h"
#include "ops/cpu.h"
#include "ops/nn.h"
#include "ops/parallel.h"
#include "ops/profile.h"

static void silu_run(float *x, size_t n)
{
    if (sdc_cpu_level_get() == SDC_CPU_AVX2) {
        sdc_silu_avx2(x, n);
        return;
    }
    if (sdc_cpu_level_get() == SDC_CPU_AVX512) {
        sdc_silu_avx512(x, n);
        return;
    }
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(n))
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] / (1.0f + expf(-x[i]));
}

static void gelu_run(float *x, size_t n)
{
    if (sdc_cpu_level_get() == SDC_CPU_AVX2) {
        sdc_gelu_avx2(x, n);
        return;
    }
    if (sdc_cpu_level_get() == SDC_CPU_AVX512) {
        sdc_gelu_avx512(x, n);
        return;
    }
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(n))
    for (size_t i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

static void quick_gelu_run(float *x, size_t n)
{
    if (sdc_cpu_level_get() == SDC_CPU_AVX2) {
        sdc_quick_gelu_avx2(x, n);
        return;
    }
    if (sdc_cpu_level_get() == SDC_CPU_AVX512) {
        sdc_quick_gelu_avx512(x, n);
        return;
    }
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(n))
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

static void softmax_rows_run(float *x, int rows, int n)
{
    if (sdc_cpu_level_get() == SDC_CPU_AVX2) {
        sdc_softmax_rows_avx2(x, rows, n);
        return;
    }
    if (sdc_cpu_level_get() == SDC_CPU_AVX512) {
        sdc_softmax_rows_avx512(x, rows, n);
        return;
    }
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)rows * n))
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * n;
        float m = -INFINITY;
        for (int i = 0; i < n; i++)
            m = row[i] > m ? row[i] : m;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            row[i] = expf(row[i] - m);
            sum += row[i];
        }
        float inv = (float)(1.0 / sum);
        for (int i = 0; i < n; i++)
            row[i] *= inv;
    }
}

static void relu_run(float *x, size_t n)
{
    /* plain C: compilers vectorize a max, and the loop is bound by memory anyway */
#pragma omp parallel for schedule(static) if (sdc_parallel_worth(n))
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void sdc_silu(float *x, size_t n)
{
    sdc_prof_mark m = sdc_profile_begin();
    silu_run(x, n);
    sdc_profile_end(SDC_PROF_ACT, m);
}

void sdc_gelu(float *x, size_t n)
{
    sdc_prof_mark m = sdc_profile_begin();
    gelu_run(x, n);
    sdc_profile_end(SDC_PROF_ACT, m);
}

void sdc_quick_gelu(float *x, size_t n)
{
    sdc_prof_mark m = sdc_profile_begin();
    quick_gelu_run(x, n);
    sdc_profile_end(SDC_PROF_ACT, m);
}

void sdc_softmax_rows(float *x, int rows, int n)
{
    sdc_prof_mark m = sdc_profile_begin();
    softmax_rows_run(x, rows, n);
    sdc_profile_end(SDC_PROF_ACT, m);
}

void sdc_relu(float *x, size_t n)
{
    sdc_prof_mark m = sdc_profile_begin();
    relu_run(x, n);
    sdc_profile_end(SDC_PROF_ACT, m);
}
