/* sdc_cpu_peak_gflops: independent FMA chains, enough of them to cover the FMA latency on
 * every port, run on each thread at once. Each thread is timed by its own CPU clock, so
 * other processes sharing the cores lower the figure only by their cache and frequency
 * effects, not by the time slices they take. */
#include <immintrin.h>
#include <omp.h>
#include <time.h>

#include "ops/cpu.h"
#include "ops/gemm_q8.h"

enum { CHAINS = 12, ITERS = 20000000 };

__attribute__((target("avx512f,fma"))) static double fma_flops_avx512(void)
{
    __m512 acc[CHAINS];
    const __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long n = 0; n < ITERS; n++)
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], mul, add);
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm512_add_ps(s, acc[i]);
    volatile float sink = _mm512_reduce_add_ps(s); /* keeps the loop alive */
    (void)sink;
    return 2.0 * 16 * CHAINS * (double)ITERS;
}

__attribute__((target("avx2,fma"))) static double fma_flops_avx2(void)
{
    __m256 acc[CHAINS];
    const __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (long n = 0; n < ITERS; n++)
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
    float out[8];
    __m256 s = acc[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm256_add_ps(s, acc[i]);
    _mm256_storeu_ps(out, s);
    volatile float sink = out[0];
    (void)sink;
    return 2.0 * 8 * CHAINS * (double)ITERS;
}

/* vdpbf16ps does two multiply-adds per f32 lane: 4 FLOP per lane. */
__attribute__((target("avx512f,avx512bf16"))) static double dot_flops_bf16(void)
{
    __m512 acc[CHAINS];
    const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3c00);
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long n = 0; n < ITERS; n++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm512_add_ps(s, acc[i]);
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return 4.0 * 16 * CHAINS * (double)ITERS;
}

/* vpdpbusd does four int8 multiply-adds per int32 lane: 8 ops per lane. */
__attribute__((target("avx512f,avx512vnni"))) static double dot_ops_int8(void)
{
    __m512i acc[CHAINS];
    const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(-1);
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm512_set1_epi32(i);
    for (long n = 0; n < ITERS; n++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    /* xor, not a sum: the chains wrap, and a scalar int sum of them would overflow (UB) */
    __m512i s = acc[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm512_xor_si512(s, acc[i]);
    volatile int sink = _mm_cvtsi128_si32(_mm512_castsi512_si128(s));
    (void)sink;
    return 8.0 * 16 * CHAINS * (double)ITERS;
}

/* The same on 256 bits (AVX-VNNI). */
__attribute__((target("avx2,avxvnni"))) static double dot_ops_int8_avx_vnni(void)
{
    __m256i acc[CHAINS];
    const __m256i a = _mm256_set1_epi8(1), b = _mm256_set1_epi8(-1);
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm256_set1_epi32(i);
    for (long n = 0; n < ITERS; n++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm256_dpbusd_avx_epi32(acc[i], a, b);
    __m256i s = acc[0];
    for (int i = 1; i < CHAINS; i++)
        s = _mm256_xor_si256(s, acc[i]);
    volatile int sink = _mm_cvtsi128_si32(_mm256_castsi256_si128(s));
    (void)sink;
    return 8.0 * 8 * CHAINS * (double)ITERS;
}

/* AVX2's form of one vpdpbusd: vpmaddubsw (pairs of unsigned x signed bytes into int16),
 * vpmaddwd by ones (pairs of int16 into int32), vpaddd; 8 ops per int32 lane. Each chain
 * multiplies its own accumulator's bytes, so nothing can be hoisted out of the loop (the
 * values are meaningless, the timing is the point); 10 chains, so that they, the two
 * constants and a temporary stay in the 16 ymm registers. */
enum { CHAINS_AVX2 = 10 };

__attribute__((target("avx2"))) static double dot_ops_int8_avx2(void)
{
    __m256i acc[CHAINS_AVX2];
    const __m256i ones = _mm256_set1_epi16(1), w = _mm256_set1_epi8(3);
    for (int i = 0; i < CHAINS_AVX2; i++)
        acc[i] = _mm256_set1_epi32(i);
    for (long n = 0; n < ITERS; n++)
#pragma GCC unroll 10
        for (int i = 0; i < CHAINS_AVX2; i++)
            acc[i] = _mm256_add_epi32(
                acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(w, acc[i]), ones));
    __m256i s = acc[0];
    for (int i = 1; i < CHAINS_AVX2; i++)
        s = _mm256_xor_si256(s, acc[i]);
    volatile int sink = _mm_cvtsi128_si32(_mm256_castsi256_si128(s));
    (void)sink;
    return 8.0 * 8 * CHAINS_AVX2 * (double)ITERS;
}

static double fma_flops_scalar(void)
{
    float acc[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        acc[i] = (float)i;
    for (long n = 0; n < ITERS / 4; n++)
        for (int i = 0; i < CHAINS; i++)
            acc[i] = acc[i] * 0.999999f + 1e-7f;
    volatile float sink = acc[0] + acc[CHAINS - 1];
    (void)sink;
    return 2.0 * CHAINS * (double)(ITERS / 4);
}

static double thread_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Sum over `threads` threads of each one's FLOP per CPU-second of `loop`. */
static double peak_of(double (*loop)(void), int threads)
{
    double rate = 0;
#pragma omp parallel num_threads(threads) reduction(+ : rate)
    {
        double t0 = thread_seconds();
        double flops = loop();
        double seconds = thread_seconds() - t0;
        rate += seconds > 0 ? flops / seconds : 0;
    }
    return rate * 1e-9;
}

double sdc_cpu_peak_gflops(int threads)
{
    sdc_cpu_level level = sdc_cpu_level_get();
    return peak_of(level == SDC_CPU_AVX512 ? fma_flops_avx512
                   : level == SDC_CPU_AVX2 ? fma_flops_avx2
                                           : fma_flops_scalar,
                   threads);
}

double sdc_cpu_peak_bf16_gflops(int threads)
{
    return sdc_cpu_has_bf16() ? peak_of(dot_flops_bf16, threads) : 0;
}

double sdc_cpu_peak_int8_gops(int threads)
{
    switch (sdc_q8_path_best()) {
    case SDC_Q8_PATH_AVX512_VNNI:
        return peak_of(dot_ops_int8, threads);
    case SDC_Q8_PATH_AVX_VNNI:
        return peak_of(dot_ops_int8_avx_vnni, threads);
    case SDC_Q8_PATH_AVX2:
        return peak_of(dot_ops_int8_avx2, threads);
    default:
        return 0;
    }
}
