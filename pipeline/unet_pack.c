#include "pipeline/unet_pack.h"

#include "ops/log.h"
#include "ops/pack_cache.h"
#include "weights/packed_weights.h"

sdc_status sdc_unet_pack_begin(sdc_unet_pack *p, const sdc_model *m, int calls, int rows,
                               sdc_prefetch *pf, sdc_pipeline_control *control)
{
    *p = (sdc_unet_pack){0};
    int min_calls = rows > 1 ? SDC_UNET_PACK_MIN_CALLS : SDC_UNET_PACK_MIN_CALLS_ONE_ROW;
    if (!sdc_pack_cache_used() || calls < min_calls)
        return SDC_OK;
    if (pf)
        sdc_prefetch_join(pf);
    p->m = m;
    p->control = control;
    p->released = sdc_packed_weights_released();
    sdc_status s = sdc_packed_weights_set(sdc_unet_layers(m->unet), m->ck, 1);
    return s == SDC_OK && control ? sdc_pipeline_control_pack(control, 1) : s;
}

void sdc_unet_pack_after_call(sdc_unet_pack *p)
{
    size_t bytes = sdc_pack_cache_bytes();
    p->peak = bytes > p->peak ? bytes : p->peak;
}

void sdc_unet_pack_end(sdc_unet_pack *p)
{
    if (!p->m)
        return;
    sdc_log(SDC_LOG_INFO, "packed bf16 weights: %zu MiB, in place of %zu MiB of mapped pages",
            p->peak >> 20, (sdc_packed_weights_released() - p->released) >> 20);
    sdc_packed_weights_set(sdc_unet_layers(p->m->unet), p->m->ck, 0);
    if (p->control)
        sdc_pipeline_control_pack(p->control, 0);
    p->m = NULL;
}
