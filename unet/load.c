#include "unet/load.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/error.h"
#include "weights/layer_load.h"

void sdc_unet_prefix(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, SDC_UNET_PREFIX_MAX, fmt, ap);
    va_end(ap);
}

static sdc_layer_source unet_source(const sdc_checkpoint *ck)
{
    return (sdc_layer_source){ck, SDC_COMPONENT_UNET, "unet", SDC_UNET_MAX_DIM};
}

const sdc_tensor *sdc_unet_tensor(const sdc_checkpoint *ck, const char *prefix,
                                  const char *suffix)
{
    sdc_layer_source src = unet_source(ck);
    return sdc_layer_find(&src, prefix, suffix, NULL);
}

sdc_status sdc_unet_layer_load(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                               int in, int k, int with_bias, sdc_unet_layer *l)
{
    sdc_layer_source src = unet_source(ck);
    l->bias = NULL;
    l->k = k;
    sdc_status s = sdc_layer_weight_load(&src, prefix, suffix, in, k, &l->w, &l->in);
    if (s == SDC_OK && with_bias)
        s = sdc_layer_vector_load(&src, prefix, suffix, "bias", l->w.rows, &l->bias);
    if (s != SDC_OK)
        sdc_unet_layer_free(l);
    return s;
}

void sdc_unet_layer_free(sdc_unet_layer *l)
{
    sdc_weight_free(&l->w);
    free(l->bias);
    l->bias = NULL;
}

sdc_status sdc_unet_norm_load(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                              int channels, sdc_unet_norm *n)
{
    sdc_layer_source src = unet_source(ck);
    n->beta = NULL;
    sdc_status s = sdc_layer_vector_load(&src, prefix, suffix, "weight", channels, &n->gamma);
    if (s == SDC_OK)
        s = sdc_layer_vector_load(&src, prefix, suffix, "bias", channels, &n->beta);
    if (s != SDC_OK)
        sdc_unet_norm_free(n);
    return s;
}

void sdc_unet_norm_free(sdc_unet_norm *n)
{
    free(n->gamma);
    free(n->beta);
    n->gamma = n->beta = NULL;
}

sdc_status sdc_unet_check_groups(const sdc_checkpoint *ck, const char *what, int channels)
{
    if (channels % SDC_UNET_GROUPS != 0)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: unet block '%s' has %d channels, not a multiple "
                        "of %d GroupNorm groups", sdc_checkpoint_path(ck), what, channels,
                        SDC_UNET_GROUPS);
    return SDC_OK;
}

sdc_status sdc_unet_check_rows(const sdc_checkpoint *ck, const char *prefix,
                               const char *suffix, const sdc_unet_layer *l, int want)
{
    if (l->w.rows == want)
        return SDC_OK;
    return sdc_fail(SDC_ERR_FORMAT, "%s: unet tensor '%s.%s.weight' has %d outputs, want %d",
                    sdc_checkpoint_path(ck), prefix, suffix, l->w.rows, want);
}
