#include "ops/geglu.h"

#include <math.h>
#include <stddef.h>

#include "ops/avx2.h"
#include "ops/avx512.h"
#include "ops/cpu.h"
#include "ops/parallel.h"
#include "ops/profile.h"

static void geglu_run(float *y, const float *x, int rows, int n)
{
    if (sdc_cpu_level_get() == SDC_CPU_AVX2) {
        sdc_geglu_avx2(y, x, rows, n);
        return;
    }
    if (sdc_cpu_level_get() == SDC_CPU_AVX512) {
        sdc_geglu_avx512(y, x, rows, n);
        return;
    }
#pragma omp parallel for schedule(static) if (sdc_parallel_worth((size_t)rows * n))
    for (int r = 0; r < rows; r++) {
        const float *value = x + (size_t)r * 2 * n;
        const float *gate = value + n;
        float *yr = y + (size_t)r * n;
        for (int i = 0; i < n; i++)
            yr[i] = value[i] * (0.5f * gate[i] * (1.0f + erff(gate[i] * (float)M_SQRT1_2)));
    }
}

void sdc_geglu(float *y, const float *x, int rows, int n)
{
    sdc_prof_mark m = sdc_profile_begin();
    geglu_run(y, x, rows, n);
    sdc_profile_end(SDC_PROF_ACT, m);
}
