#include "pipeline/prefetch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "ops/pages.h"

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const sdc_prefetch_range *)a)->data;
    uintptr_t y = (uintptr_t)((const sdc_prefetch_range *)b)->data;
    return (x > y) - (x < y);
}

/* Ranges that touch or share a page become one: the UNet's tensors lie back to back in its
 * file, so hundreds of weights become a few madvise calls. */
static size_t merge(sdc_prefetch_range *r, size_t n)
{
    size_t page = sdc_pages_size(), out = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t lo = (uintptr_t)r[i].data, hi = lo + r[i].nbytes;
        sdc_prefetch_range *last = out ? &r[out - 1] : NULL;
        uintptr_t last_hi = last ? (uintptr_t)last->data + last->nbytes : 0;
        if (last && lo <= (last_hi + page - 1) / page * page) {
            if (hi > last_hi)
                last->nbytes = hi - (uintptr_t)last->data;
        } else {
            r[out++] = r[i];
        }
    }
    return out;
}

sdc_status sdc_prefetch_plan(sdc_prefetch *pf, const sdc_checkpoint *ck,
                             const sdc_layer_table *layers)
{
    memset(pf, 0, sizeof *pf);
    pf->ck = ck;
    if (!layers || !layers->count)
        return SDC_OK;
    pf->ranges = malloc(layers->count * sizeof *pf->ranges);
    if (!pf->ranges)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory planning the weight prefetch");
    for (size_t i = 0; i < layers->count; i++) {
        const sdc_weight *w = &layers->entries[i].layer->w;
        if (!w->owned && w->data && sdc_weight_bytes(w)) /* a view of the file */
            pf->ranges[pf->count++] = (sdc_prefetch_range){w->data, sdc_weight_bytes(w)};
    }
    qsort(pf->ranges, pf->count, sizeof *pf->ranges, by_address);
    pf->count = merge(pf->ranges, pf->count);
    return SDC_OK;
}

static void *populate_all(void *arg)
{
    sdc_prefetch *pf = arg;
    for (size_t i = 0; i < pf->count; i++)
        pf->populated += sdc_checkpoint_populate(pf->ck, pf->ranges[i].data, pf->ranges[i].nbytes);
    return NULL;
}

void sdc_prefetch_start(sdc_prefetch *pf)
{
    if (pf->count && !pf->running)
        pf->running = pthread_create(&pf->thread, NULL, populate_all, pf) == 0;
}

size_t sdc_prefetch_join(sdc_prefetch *pf)
{
    if (pf->running)
        pthread_join(pf->thread, NULL);
    pf->running = 0;
    free(pf->ranges);
    pf->ranges = NULL;
    pf->count = 0;
    return pf->populated;
}
