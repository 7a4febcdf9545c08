#include "ops/cpu.h"

#include <string.h>

/* Callers may lower the level (tests, benchmarks); by default it is what the CPU has. */
static int level_cap = SDC_CPU_AVX512;
static sdc_precision precision = SDC_PRECISION_FP32;

sdc_cpu_level sdc_cpu_detect(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        return SDC_CPU_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        return SDC_CPU_AVX2;
#endif
    return SDC_CPU_SCALAR;
}

sdc_cpu_level sdc_cpu_level_get(void)
{
    static int detected = -1;
    if (detected < 0)
        detected = sdc_cpu_detect();
    return (sdc_cpu_level)(detected < level_cap ? detected : level_cap);
}

void sdc_cpu_set_max_level(sdc_cpu_level cap)
{
    level_cap = (int)cap;
}

int sdc_cpu_has_bf16(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return sdc_cpu_level_get() == SDC_CPU_AVX512 && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

int sdc_cpu_has_vnni(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return sdc_cpu_level_get() == SDC_CPU_AVX512 && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

int sdc_cpu_has_avx_vnni(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return sdc_cpu_level_get() >= SDC_CPU_AVX2 && __builtin_cpu_supports("avxvnni");
#else
    return 0;
#endif
}

const char *sdc_cpu_level_name(sdc_cpu_level level)
{
    switch (level) {
    case SDC_CPU_AVX512:
        return "avx512";
    case SDC_CPU_AVX2:
        return "avx2";
    default:
        return "scalar";
    }
}

void sdc_precision_set(sdc_precision p)
{
    precision = p;
}

sdc_precision sdc_precision_get(void)
{
    return precision;
}

const char *sdc_precision_name(sdc_precision p)
{
    return p == SDC_PRECISION_BF16 ? "bf16" : p == SDC_PRECISION_INT8 ? "int8" : "fp32";
}

int sdc_cpu_level_from_name(const char *name)
{
    for (int l = SDC_CPU_SCALAR; l <= SDC_CPU_AVX512; l++)
        if (strcmp(name, sdc_cpu_level_name((sdc_cpu_level)l)) == 0)
            return l;
    return -1;
}

int sdc_precision_from_name(const char *name)
{
    for (int p = SDC_PRECISION_FP32; p <= SDC_PRECISION_INT8; p++)
        if (strcmp(name, sdc_precision_name((sdc_precision)p)) == 0)
            return p;
    return -1;
}
