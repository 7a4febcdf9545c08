/* AVX2 kernel of the int8 GEMM: vpmaddubsw / vpmaddwd with the sign trick (ops/gemm_q8_ymm.h
 * says why it is exact). Tile 4 x 16: 8 int32 sums, |w| and w of two vectors, one broadcast
 * and the ones of vpmaddwd in the 16 ymm registers; the 8 f32 accumulators, touched once a
 * block, live wherever the compiler puts them. Only where sdc_cpu_level_get() >= AVX2. */
#pragma GCC target("avx2,fma,f16c")

#define Q8_YMM_VNNI 0
#define Q8_YMM_MR 4
#define Q8_YMM_NV 2
#include "ops/gemm_q8_ymm.h"

const sdc_q8_kernel *sdc_q8_kernel_avx2(void)
{
    static const sdc_q8_kernel k = {"avx2", MR, NR, quantize_ymm, pack_ymm, micro_ymm};
    return &k;
}
