#include "weights/packed_weights.h"

#include "ops/error.h"
#include "ops/pack_cache.h"

static size_t released_bytes;

static void release(const void *ck, const void *data, size_t bytes)
{
    size_t n = sdc_checkpoint_release_range(ck, data, bytes); /* owned memory: 0, untouched */
    __atomic_add_fetch(&released_bytes, n, __ATOMIC_RELAXED);
}

sdc_status sdc_packed_weights_set(sdc_layer_table *t, const sdc_checkpoint *ck, int on)
{
    for (size_t i = 0; i < t->count; i++) {
        sdc_weight *w = &t->entries[i].layer->w;
        if (!on)
            sdc_weight_pack_drop(w);
        else if (sdc_weight_pack_enable(w, release, ck))
            return sdc_fail(SDC_ERR_NOMEM, "out of memory for packed weights");
    }
    return SDC_OK;
}

size_t sdc_packed_weights_released(void)
{
    return __atomic_load_n(&released_bytes, __ATOMIC_RELAXED);
}
