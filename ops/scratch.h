/* Scratch memory for kernels that need a private buffer per call (GEMM packing blocks,
 * attention tiles). Each thread keeps the buffers it took, a few levels deep (a kernel that
 * calls another inside its own scratch, e.g. attention and its GEMMs), and reuses them, so
 * the step loop does not map, fault in and unmap fresh memory on every kernel call. */
#ifndef SDC_OPS_SCRATCH_H
#define SDC_OPS_SCRATCH_H

#include <stddef.h>

typedef struct sdc_scratch {
    float *data; /* 64-byte aligned, at least the floats asked for; NULL when out of memory */
    int level;   /* the calling thread's cached buffer it is, or -1 (give it back anyway) */
    size_t floats; /* its size (a buffer of level -1 is freed by size, ops/pages.h) */
} sdc_scratch;

/* The buffers belong to the calling thread: give them back on the thread that took them. */
sdc_scratch sdc_scratch_take(size_t floats);
void sdc_scratch_give(sdc_scratch s);

#endif
