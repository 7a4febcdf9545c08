/* A weight's packed copy for the GEMM kernels that multiply bf16 pairs: the blocks the
 * driver would otherwise round and copy from the f16 (or f32) weight in every call, made by
 * the first call after sdc_weight_pack_enable and read in place by the calls after it
 * (docs/PERFORMANCE.md, "Packed bf16 weights"). A convolution's weight is the GEMM's A
 * operand, packed as the driver's pre_pack_a lays it out; a linear layer's is the B operand,
 * packed as [K blocks][micro-panels of nr columns][kc / 2][nr], which every work item's
 * blocks index into whatever the call's split of N. A packed copy is tied to the kernel,
 * shape and data pointer it was made from: a call with any of them different packs again. */
#ifndef SDC_OPS_PACK_CACHE_H
#define SDC_OPS_PACK_CACHE_H

#include <stddef.h>

typedef struct sdc_pack_cache {
    const void *kern; /* the sdc_gemm_kernel it was packed for; NULL: nothing packed */
    const void *src;  /* the weight data it was packed from */
    int side;         /* 0: the A operand, 1: the B operand */
    int rows, cols;   /* the operand's M (or N) and K */
    float *data;
    size_t bytes;
    /* called with the source's bytes once they are packed (NULL: none), so that the packed
     * copy replaces the mapped pages it was made from instead of adding to them */
    void (*release_source)(const void *ctx, const void *data, size_t bytes);
    const void *release_ctx;
} sdc_pack_cache;

struct sdc_weight;

/* Gives w an empty cache (a no-op when it has one) whose packing calls release(ctx, ...)
 * (NULL: nothing); quantised weights get none (their blocks are expanded, not rounded to
 * pairs). Returns 0, or -1 when out of memory. */
int sdc_weight_pack_enable(struct sdc_weight *w,
                           void (*release)(const void *ctx, const void *data, size_t bytes),
                           const void *ctx);
/* Frees w's packed copy (the cache stays, empty): for a weight whose values changed. */
void sdc_weight_pack_invalidate(struct sdc_weight *w);
/* Frees w's cache and packed copy. */
void sdc_weight_pack_drop(struct sdc_weight *w);
/* Whether w holds a packed copy of its current data. */
int sdc_weight_packed(const struct sdc_weight *w);

/* Memory for a packed copy (`bytes`, 64-byte aligned) taken by the driver, which records
 * it in c; NULL when out of memory. Replaces what c held. */
float *sdc_pack_cache_alloc(sdc_pack_cache *c, size_t bytes);
/* Whether the GEMM that layers use now (precision, CPU level) keeps packed copies. */
int sdc_pack_cache_used(void);
/* Bytes of packed copies alive in this process. */
size_t sdc_pack_cache_bytes(void);

#endif
