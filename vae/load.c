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

static sdc_layer_source vae_source(const sdc_checkpoint *ck)
{
    return (sdc_layer_source){ck, SDC_COMPONENT_VAE, "vae", SDC_VAE_MAX_DIM};
}

int sdc_vae_has(const sdc_checkpoint *ck, const char *prefix, const char *suffix)
{
    sdc_layer_source src = vae_source(ck);
    return sdc_layer_find(&src, prefix, suffix, "weight") != NULL;
}

sdc_status sdc_vae_layer_load(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                              int in, int k, sdc_vae_layer *l)
{
    sdc_layer_source src = vae_source(ck);
    l->bias = NULL;
    l->k = k;
    sdc_status s = sdc_layer_weight_load(&src, prefix, suffix, in, k, &l->w, &l->in);
    l->out = l->w.rows;
    if (s == SDC_OK)
        s = sdc_layer_vector_load(&src, prefix, suffix, "bias", l->out, &l->bias);
    if (s != SDC_OK)
        sdc_vae_layer_free(l);
    return s;
}

void sdc_vae_layer_free(sdc_vae_layer *l)
{
    sdc_weight_free(&l->w);
    free(l->bias);
    l->bias = NULL;
}

sdc_status sdc_vae_check_out(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                             const sdc_vae_layer *l, int want)
{
    if (l->out == want)
        return SDC_OK;
    return sdc_fail(SDC_ERR_FORMAT, "%s: vae tensor '%s%s%s.weight' has %d outputs, want %d",
                    sdc_checkpoint_path(ck), prefix, suffix ? "." : "", suffix ? suffix : "",
                    l->out, want);
}

sdc_status sdc_vae_norm_load(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                             int channels, sdc_vae_norm *n)
{
    sdc_layer_source src = vae_source(ck);
    n->gamma = n->beta = NULL;
    if (channels % SDC_VAE_GROUPS != 0)
        return sdc_fail(SDC_ERR_UNSUPPORTED,
                        "%s: vae norm '%s.%s' has %d channels, not a multiple of %d groups",
                        sdc_checkpoint_path(ck), prefix, suffix, channels, SDC_VAE_GROUPS);
    sdc_status s = sdc_layer_vector_load(&src, prefix, suffix, "weight", channels, &n->gamma);
    if (s == SDC_OK)
        s = sdc_layer_vector_load(&src, prefix, suffix, "bias", channels, &n->beta);
    if (s != SDC_OK)
        sdc_vae_norm_free(n);
    return s;
}

void sdc_vae_norm_free(sdc_vae_norm *n)
{
    free(n->gamma);
    free(n->beta);
    n->gamma = n->beta = NULL;
}

sdc_status sdc_vae_conv(const sdc_vae_layer *l, const sdc_vae_pass *p, float *y, const float *x,
                        int H, int W, int stride, int pad)
{
    if (sdc_conv2d(y, x, p->B, l->in, H, W, &l->w, l->bias, l->k, stride, pad, p->arena))
        return sdc_fail(SDC_ERR_NOMEM, "vae: out of memory for convolution scratch");
    return SDC_OK;
}

sdc_status sdc_vae_nomem(const sdc_vae_pass *p, size_t mark, const char *what)
{
    sdc_arena_release(p->arena, mark);
    return sdc_fail(SDC_ERR_NOMEM, "vae: out of memory for %s activations", what);
}

void sdc_vae_group_norm(const sdc_vae_pass *p, float *y, const float *x, int C, int HW,
                        const sdc_vae_norm *n, int silu)
{
    sdc_group_norm(y, x, p->B, C, HW, SDC_VAE_GROUPS, n->gamma, n->beta, SDC_VAE_NORM_EPS, silu);
}
