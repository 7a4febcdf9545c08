#include "unet/load.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/error.h"

void sdc_unet_prefix(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, SDC_UNET_PREFIX_MAX, fmt, ap);
    va_end(ap);
}

/* "<prefix>.<suffix>.<leaf>" (parts may be NULL); 0 when it does not fit. */
static int make_name(char *buf, size_t size, const char *prefix, const char *suffix,
                     const char *leaf)
{
    int n = snprintf(buf, size, "%s%s%s%s%s", prefix, suffix ? "." : "", suffix ? suffix : "",
                     leaf ? "." : "", leaf ? leaf : "");
    return n > 0 && (size_t)n < size;
}

const sdc_tensor *sdc_unet_tensor(const sdc_checkpoint *ck, const char *prefix,
                                  const char *suffix)
{
    char name[256];
    if (!make_name(name, sizeof name, prefix, suffix, NULL))
        return NULL;
    return sdc_checkpoint_get(ck, SDC_COMPONENT_UNET, name);
}

static sdc_status require(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                          const char *leaf, char *name, size_t size, const sdc_tensor **t)
{
    if (!make_name(name, size, prefix, suffix, leaf))
        return sdc_fail(SDC_ERR_ARG, "%s: unet tensor name too long: %s.%s",
                        sdc_checkpoint_path(ck), prefix, suffix ? suffix : "");
    return sdc_checkpoint_require(ck, SDC_COMPONENT_UNET, name, t);
}

/* The ops/ loaders name the tensor but not the file. */
static sdc_status with_path(const sdc_checkpoint *ck, sdc_status s)
{
    if (s != SDC_OK)
        sdc_error_prefix("%s", sdc_checkpoint_path(ck));
    return s;
}

static int dim_ok(int64_t d) { return d >= 1 && d <= SDC_UNET_MAX_DIM; }

/* [out, in, k, k], or [out, in] when k == 1; in < 0 matches any width. */
static int layer_shape_ok(const sdc_tensor *t, int in, int k)
{
    int linear = t->ndim == 2 && k == 1;
    if (!(t->ndim == 4 && t->shape[2] == k && t->shape[3] == k) && !linear)
        return 0;
    return dim_ok(t->shape[0]) && dim_ok(t->shape[1]) && (in < 0 || t->shape[1] == in);
}

sdc_status sdc_unet_layer_load(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                               int in, int k, int with_bias, sdc_unet_layer *l)
{
    char name[256];
    const sdc_tensor *t;
    l->w.data = NULL;
    l->bias = NULL;
    sdc_status s = require(ck, prefix, suffix, "weight", name, sizeof name, &t);
    if (s != SDC_OK)
        return s;
    if (!layer_shape_ok(t, in, k))
        return sdc_fail(SDC_ERR_FORMAT,
                        "%s: unet tensor '%s' has an unexpected shape (want [out, %s%d, %d, %d])",
                        sdc_checkpoint_path(ck), name, in < 0 ? "in" : "", in < 0 ? 0 : in, k,
                        k);
    int out = (int)t->shape[0];
    l->in = (int)t->shape[1];
    l->k = k;
    s = with_path(ck, sdc_weight_load(&l->w, t, out, l->in * k * k, name));
    if (s == SDC_OK && with_bias) {
        s = require(ck, prefix, suffix, "bias", name, sizeof name, &t);
        if (s == SDC_OK)
            s = with_path(ck, sdc_vector_load(&l->bias, t, out, name));
    }
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
    char name[256];
    const sdc_tensor *t;
    n->gamma = n->beta = NULL;
    sdc_status s = require(ck, prefix, suffix, "weight", name, sizeof name, &t);
    if (s == SDC_OK)
        s = with_path(ck, sdc_vector_load(&n->gamma, t, channels, name));
    if (s == SDC_OK)
        s = require(ck, prefix, suffix, "bias", name, sizeof name, &t);
    if (s == SDC_OK)
        s = with_path(ck, sdc_vector_load(&n->beta, t, channels, name));
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
