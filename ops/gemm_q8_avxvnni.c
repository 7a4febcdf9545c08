/* AVX-VNNI kernel of the int8 GEMM: the VEX-encoded vpdpbusd on 256-bit vectors, for CPUs
 * with AVX-VNNI and no AVX512_VNNI (or with AVX-512 capped), the weights offset by 128 as in
 * the AVX-512 kernel (ops/gemm_q8_ymm.h). Tile 6 x 16: 12 int32 sums, two weight vectors and
 * one broadcast in the 16 ymm registers. Only where sdc_cpu_has_avx_vnni(). */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avxvnni"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c,avxvnni")
#endif

#define Q8_YMM_VNNI 1
#define Q8_YMM_MR 6
#define Q8_YMM_NV 2
#include "ops/gemm_q8_ymm.h"

const sdc_q8_kernel *sdc_q8_kernel_avx_vnni(void)
{
    static const sdc_q8_kernel k = {"avx-vnni", MR, NR, quantize_ymm, pack_ymm, micro_ymm};
    return &k;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
