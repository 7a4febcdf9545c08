/* The UNet's weights mapped in bulk while the text encoder runs. A stage that reads its
 * mapped weights for the first time faults them in page by page, and a one-step run pays
 * that inside its only UNet call (docs/PERFORMANCE.md, "First touch"). A background thread
 * populates the pages of every weight the UNet will read from the file (views of the
 * mapping; weights it holds in memory, merged LoRAs or int8 copies, are skipped) at the start
 * of a generation, reading them from disk where they are not cached, and is joined before
 * the UNet's pages are released, so a released page is never mapped again behind the
 * pipeline's back. Where no thread can be started, nothing is prefetched. */
#ifndef SDC_PIPELINE_PREFETCH_H
#define SDC_PIPELINE_PREFETCH_H

#include <pthread.h>
#include <stddef.h>

#include "weights/checkpoint.h"
#include "weights/layer_table.h"

typedef struct sdc_prefetch_range {
    const void *data;
    size_t nbytes;
} sdc_prefetch_range;

typedef struct sdc_prefetch {
    const sdc_checkpoint *ck;
    sdc_prefetch_range *ranges; /* sorted by address, adjacent ones merged; owned */
    size_t count;
    size_t populated; /* bytes, once joined */
    pthread_t thread;
    int running;
} sdc_prefetch;

/* The ranges of the mapped weights of `layers` (views of ck's files), sorted and merged,
 * into pf (pf->ck = ck); SDC_ERR_NOMEM when the list cannot be had. Starts nothing. */
sdc_status sdc_prefetch_plan(sdc_prefetch *pf, const sdc_checkpoint *ck,
                             const sdc_layer_table *layers);
/* Populates pf's ranges on a background thread (nothing when there are none or when no
 * thread can be started). */
void sdc_prefetch_start(sdc_prefetch *pf);
/* Waits for the thread (if any), frees the ranges; returns the bytes populated. Safe to
 * call again, and on a zeroed or never started sdc_prefetch. */
size_t sdc_prefetch_join(sdc_prefetch *pf);

#endif
