/* AVX2 kernel of the int8 GEMM: vpmaddubsw / vpmaddwd with the sign trick (ops/gemm_q8_ymm.h
 * says why it is exact). Tile 6 x 8: 6 int32 sums, w and |w|, a broadcast and the ones of
 * vpmaddwd stay in the 16 ymm registers through the block (4 x 16 and 3 x 16 measured slower:
 * their sums spill). Only where sdc_cpu_level_get() >= AVX2. */
#ifdef __clang__ /* clang's spelling of the gcc pragma below (popped at the end) */
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#define Q8_YMM_VNNI 0
#define Q8_YMM_MR 6
#define Q8_YMM_NV 1
#include "ops/gemm_q8_ymm.h"

const sdc_q8_kernel *sdc_q8_kernel_avx2(void)
{
    static const sdc_q8_kernel k = {"avx2", MR, NR, quantize_ymm, pack_ymm, micro_ymm};
    return &k;
}

#ifdef __clang__
#pragma clang attribute pop
#endif
