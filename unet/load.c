#include "unet/load.h"

#include <stdarg.h>
#include <stdio.h>

#include "ops/error.h"

sdc_layer_source sdc_unet_source(const sdc_checkpoint *ck, sdc_layer_table *table)
{
    return (sdc_layer_source){ck, SDC_COMPONENT_UNET, "unet", SDC_UNET_MAX_DIM, table};
}

void sdc_unet_prefix(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, SDC_UNET_PREFIX_MAX, fmt, ap);
    va_end(ap);
}

const sdc_tensor *sdc_unet_tensor(const sdc_layer_source *src, const char *prefix,
                                  const char *suffix)
{
    return sdc_layer_find(src, prefix, suffix, NULL);
}

sdc_status sdc_unet_check_groups(const sdc_layer_source *src, const char *what, int channels)
{
    if (channels % SDC_UNET_GROUPS != 0)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: unet block '%s' has %d channels, not a multiple "
                        "of %d GroupNorm groups", sdc_checkpoint_path(src->ck), what, channels,
                        SDC_UNET_GROUPS);
    return SDC_OK;
}
