/* Activation arena: a bump allocator for one forward pass. Allocations are never moved;
 * sdc_arena_reset() makes all memory reusable, and after the first pass has shown the peak,
 * a reset consolidates everything into one block, so later passes never call malloc. */
#ifndef SDC_OPS_ARENA_H
#define SDC_OPS_ARENA_H

#include <stddef.h>

typedef struct sdc_arena_block sdc_arena_block;

typedef struct sdc_arena {
    sdc_arena_block *blocks; /* newest first */
    size_t used_total;       /* bytes handed out since the last reset */
    size_t peak;             /* largest used_total seen */
    sdc_arena_block *spare;  /* the last block a release dropped, kept for the next one */
} sdc_arena;

void sdc_arena_init(sdc_arena *a);
void sdc_arena_free(sdc_arena *a);
/* 64-byte aligned floats; NULL when out of memory. */
float *sdc_arena_floats(sdc_arena *a, size_t count);
/* Marks and releases (stack discipline): everything allocated after the mark is freed. The
 * largest dropped block is kept and reused by the next allocation it fits, so a kernel's
 * scratch taken and released at every call is not mapped (and page-faulted) anew each time
 * before the first reset has consolidated the arena; an allocation it does not fit frees it
 * first, so the resident peak never exceeds that of freeing at once. */
size_t sdc_arena_mark(const sdc_arena *a);
void sdc_arena_release(sdc_arena *a, size_t mark);
void sdc_arena_reset(sdc_arena *a);

#endif
