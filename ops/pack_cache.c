#include "ops/pack_cache.h"

#include <stdlib.h>

#include "ops/gemm_driver.h"
#include "ops/pages.h"
#include "ops/weight.h"

static size_t live_bytes;

static void release_data(sdc_pack_cache *c)
{
    if (c->data) {
        sdc_pages_free_now(c->data, c->bytes); /* not kept: the next stage needs less */
        __atomic_sub_fetch(&live_bytes, c->bytes, __ATOMIC_RELAXED);
    }
    c->data = NULL;
    c->bytes = 0;
    c->kern = NULL;
    c->src = NULL;
}

int sdc_weight_pack_enable(sdc_weight *w,
                           void (*release)(const void *ctx, const void *data, size_t bytes),
                           const void *ctx)
{
    if (w->pack || w->quant)
        return 0;
    w->pack = calloc(1, sizeof *w->pack);
    if (!w->pack)
        return -1;
    w->pack->release_source = release;
    w->pack->release_ctx = ctx;
    return 0;
}

void sdc_weight_pack_invalidate(sdc_weight *w)
{
    if (w->pack)
        release_data(w->pack);
}

void sdc_weight_pack_drop(sdc_weight *w)
{
    sdc_weight_pack_invalidate(w);
    free(w->pack);
    w->pack = NULL;
}

int sdc_weight_packed(const sdc_weight *w)
{
    return w->pack && w->pack->kern && w->pack->src == w->data;
}

float *sdc_pack_cache_alloc(sdc_pack_cache *c, size_t bytes)
{
    release_data(c);
    c->data = sdc_pages_alloc(bytes);
    if (c->data) {
        c->bytes = bytes;
        __atomic_add_fetch(&live_bytes, bytes, __ATOMIC_RELAXED);
    }
    return c->data;
}

size_t sdc_pack_cache_bytes(void)
{
    return __atomic_load_n(&live_bytes, __ATOMIC_RELAXED);
}

int sdc_pack_cache_used(void)
{
    return sdc_gemm_kernel_for_weights()->k_pack == 2;
}
