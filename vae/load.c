#include "vae/load.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/error.h"
#include "ops/nn.h"
#include "weights/layer_load.h"

void sdc_vae_name(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, SDC_VAE_NAME_MAX, fmt, ap);
    va_end(ap);
}

sdc_layer_source sdc_vae_source(const sdc_checkpoint *ck, sdc_layer_table *table)
{
    return (sdc_layer_source){ck, SDC_COMPONENT_VAE, "vae", SDC_VAE_MAX_DIM, table};
}

int sdc_vae_has(const sdc_layer_source *src, const char *prefix, const char *suffix)
{
    return sdc_layer_find(src, prefix, suffix, "weight") != NULL;
}

sdc_status sdc_vae_norm_load(const sdc_layer_source *src, const char *prefix,
                             const char *suffix, int channels, sdc_norm *n)
{
    n->gamma = n->beta = NULL;
    if (channels % SDC_VAE_GROUPS != 0)
        return sdc_fail(SDC_ERR_UNSUPPORTED,
                        "%s: vae norm '%s.%s' has %d channels, not a multiple of %d groups",
                        sdc_checkpoint_path(src->ck), prefix, suffix, channels, SDC_VAE_GROUPS);
    return sdc_norm_load(src, prefix, suffix, channels, n);
}

sdc_status sdc_vae_conv(const sdc_layer *l, const sdc_vae_pass *p, float *y, const float *x,
                        int H, int W, int stride, int pad)
{
    if (sdc_layer_conv(l, y, x, p->B, H, W, stride, pad, p->arena))
        return sdc_fail(SDC_ERR_NOMEM, "vae: out of memory for convolution scratch");
    return SDC_OK;
}

sdc_status sdc_vae_nomem(const sdc_vae_pass *p, size_t mark, const char *what)
{
    sdc_arena_release(p->arena, mark);
    return sdc_fail(SDC_ERR_NOMEM, "vae: out of memory for %s activations", what);
}

void sdc_vae_group_norm(const sdc_vae_pass *p, float *y, const float *x, int C, int HW,
                        const sdc_norm *n, int silu)
{
    sdc_group_norm(y, x, p->B, C, HW, SDC_VAE_GROUPS, n->gamma, n->beta, SDC_VAE_NORM_EPS, silu);
}
