#include <math.h>

#include "ops/cpu.h"
#include "ops/nn.h"
#include "ops/norm_impl.h"
#include "ops/parallel.h"
#include "ops/profile.h"

static inline float silu1(float v) { return v / (1.0f + expf(-v)); }

/* The CPU level's vector pieces, or NULL for the portable loops. */
static const sdc_norm_kernels *vector_kernels(void)
{
    sdc_cpu_level level = sdc_cpu_level_get();
    return level == SDC_CPU_AVX512 ? sdc_norm_kernels_avx512()
           : level == SDC_CPU_AVX2 ? sdc_norm_kernels_avx2()
                                   : NULL;
}

static void group_norm_vector(const sdc_norm_kernels *k, float *y, const float *x, int B, int C,
                              int HW, int groups, const float *gamma, const float *beta,
                              float eps, int silu)
{
    int cpg = C / groups;
    size_t n = (size_t)cpg * HW;
#pragma omp parallel for schedule(dynamic) collapse(2) if (sdc_parallel_worth((size_t)B * C * HW))
    for (int b = 0; b < B; b++)
        for (int g = 0; g < groups; g++) {
            size_t off = ((size_t)b * C + (size_t)g * cpg) * HW;
            float mean, inv;
            k->moments(x + off, n, eps, &mean, &inv);
            for (int c = 0; c < cpg; c++) {
                float s = gamma[g * cpg + c] * inv;
                k->affine(y + off + (size_t)c * HW, x + off + (size_t)c * HW, (size_t)HW, s,
                          beta[g * cpg + c] - mean * s, silu);
            }
        }
}

static void layer_norm_vector(const sdc_norm_kernels *k, float *y, const float *x, int rows,
                              int dim, const float *gamma, const float *beta, float eps)
{
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)rows * dim))
    for (int r = 0; r < rows; r++) {
        float mean, inv;
        k->moments(x + (size_t)r * dim, (size_t)dim, eps, &mean, &inv);
        k->layer_row(y + (size_t)r * dim, x + (size_t)r * dim, dim, mean, inv, gamma, beta);
    }
}

static void group_norm_run(float *y, const float *x, int B, int C, int HW, int groups,
                           const float *gamma, const float *beta, float eps, int silu)
{
    const sdc_norm_kernels *k = vector_kernels();
    if (k) {
        group_norm_vector(k, y, x, B, C, HW, groups, gamma, beta, eps, silu);
        return;
    }
    int cpg = C / groups;
    size_t n = (size_t)cpg * HW;
#pragma omp parallel for schedule(static) collapse(2) if (sdc_parallel_worth((size_t)B * C * HW))
    for (int b = 0; b < B; b++) {
        for (int g = 0; g < groups; g++) {
            const float *xg = x + ((size_t)b * C + (size_t)g * cpg) * HW;
            float *yg = y + ((size_t)b * C + (size_t)g * cpg) * HW;
            double sum = 0, sq = 0;
            for (size_t i = 0; i < n; i++)
                sum += xg[i];
            double mean = sum / (double)n;
            for (size_t i = 0; i < n; i++) {
                double d = xg[i] - mean;
                sq += d * d;
            }
            float inv = (float)(1.0 / sqrt(sq / (double)n + eps));
            float m = (float)mean;
            for (int c = 0; c < cpg; c++) {
                float s = gamma[g * cpg + c] * inv, t = beta[g * cpg + c];
                const float *xc = xg + (size_t)c * HW;
                float *yc = yg + (size_t)c * HW;
                for (int i = 0; i < HW; i++) {
                    float v = (xc[i] - m) * s + t;
                    yc[i] = silu ? silu1(v) : v;
                }
            }
        }
    }
}

static void layer_norm_run(float *y, const float *x, int rows, int dim, const float *gamma,
                           const float *beta, float eps)
{
    const sdc_norm_kernels *k = vector_kernels();
    if (k) {
        layer_norm_vector(k, y, x, rows, dim, gamma, beta, eps);
        return;
    }
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)rows * dim))
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        float *yr = y + (size_t)r * dim;
        double sum = 0, sq = 0;
        for (int i = 0; i < dim; i++)
            sum += xr[i];
        double mean = sum / dim;
        for (int i = 0; i < dim; i++) {
            double d = xr[i] - mean;
            sq += d * d;
        }
        float inv = (float)(1.0 / sqrt(sq / dim + eps));
        float m = (float)mean;
        for (int i = 0; i < dim; i++)
            yr[i] = (xr[i] - m) * inv * gamma[i] + beta[i];
    }
}

void sdc_group_norm(float *y, const float *x, int B, int C, int HW, int groups,
                    const float *gamma, const float *beta, float eps, int silu)
{
    sdc_prof_mark m = sdc_profile_begin();
    group_norm_run(y, x, B, C, HW, groups, gamma, beta, eps, silu);
    sdc_profile_end(SDC_PROF_NORM, m);
}

void sdc_layer_norm(float *y, const float *x, int rows, int dim, const float *gamma,
                    const float *beta, float eps)
{
    sdc_prof_mark m = sdc_profile_begin();
    layer_norm_run(y, x, rows, dim, gamma, beta, eps);
    sdc_profile_end(SDC_PROF_NORM, m);
}
