/* Scratch memory for kernels that need a private buffer per call (GEMM packing blocks,
 * attention tiles). A buffer from the first caller is kept and reused, so the step loop does
 * not map, fault in and unmap fresh memory on every kernel call; concurrent callers (a
 * kernel called from inside another's parallel region) get their own allocation. */
#ifndef SDC_OPS_SCRATCH_H
#define SDC_OPS_SCRATCH_H

#include <stddef.h>

typedef struct sdc_scratch {
    float *data; /* 64-byte aligned, at least the floats asked for; NULL when out of memory */
    int cached;  /* data is the shared buffer (give it back with sdc_scratch_give) */
} sdc_scratch;

sdc_scratch sdc_scratch_take(size_t floats);
void sdc_scratch_give(sdc_scratch s);

#endif
