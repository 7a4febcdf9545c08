#include "weights/layer_load.h"

#include <stdio.h>
#include <string.h>

#include "ops/error.h"

int sdc_layer_name(char *buf, size_t size, const char *prefix, const char *suffix,
                   const char *leaf)
{
    int n = snprintf(buf, size, "%s%s%s%s%s", prefix, suffix ? "." : "", suffix ? suffix : "",
                     leaf ? "." : "", leaf ? leaf : "");
    return n > 0 && (size_t)n < size;
}

const sdc_tensor *sdc_layer_find(const sdc_layer_source *src, const char *prefix,
                                 const char *suffix, const char *leaf)
{
    char name[256];
    if (!sdc_layer_name(name, sizeof name, prefix, suffix, leaf))
        return NULL;
    return sdc_checkpoint_get(src->ck, src->component, name);
}

const sdc_tensor *sdc_layer_peek(const sdc_layer_source *src, const char *prefix,
                                 const char *suffix, const char *leaf)
{
    char name[256];
    if (!sdc_layer_name(name, sizeof name, prefix, suffix, leaf))
        return NULL;
    return sdc_checkpoint_peek(src->ck, src->component, name);
}

static sdc_status require(const sdc_layer_source *src, const char *prefix, const char *suffix,
                          const char *leaf, char *name, size_t size, const sdc_tensor **t)
{
    if (!sdc_layer_name(name, size, prefix, suffix, leaf))
        return sdc_fail(SDC_ERR_ARG, "%s: %s tensor name too long: %s.%s",
                        sdc_checkpoint_path(src->ck), src->what, prefix, suffix ? suffix : "");
    return sdc_checkpoint_require(src->ck, src->component, name, t);
}

/* The ops/ loaders name the tensor but not the file. */
static sdc_status with_path(const sdc_layer_source *src, sdc_status s)
{
    if (s != SDC_OK)
        sdc_error_prefix("%s", sdc_checkpoint_path(src->ck));
    return s;
}

/* [out, in, k, k], or [out, in] when k == 1; in < 0 matches any width. */
static int weight_shape_ok(const sdc_layer_source *src, const sdc_tensor *t, int in, int k)
{
    int linear = t->ndim == 2 && k == 1;
    if (!(t->ndim == 4 && t->shape[2] == k && t->shape[3] == k) && !linear)
        return 0;
    for (int i = 0; i < 2; i++)
        if (t->shape[i] < 1 || t->shape[i] > src->max_dim)
            return 0;
    return in < 0 || t->shape[1] == in;
}

sdc_status sdc_layer_weight_load(const sdc_layer_source *src, const char *prefix,
                                 const char *suffix, int in, int k, sdc_weight *w,
                                 int *in_found)
{
    char name[256];
    const sdc_tensor *t;
    *w = (sdc_weight){0};
    *in_found = 0;
    /* quantised GGUF matrices are used as blocks: their f32 expansion is never made */
    t = sdc_layer_name(name, sizeof name, prefix, suffix, "weight")
            ? sdc_checkpoint_peek(src->ck, src->component, name)
            : NULL;
    sdc_status s = t && sdc_tensor_blocked(t)
                       ? SDC_OK
                       : require(src, prefix, suffix, "weight", name, sizeof name, &t);
    if (s != SDC_OK)
        return s;
    if (!weight_shape_ok(src, t, in, k)) {
        char want[32] = "in";
        if (in >= 0)
            snprintf(want, sizeof want, "%d", in);
        return sdc_fail(SDC_ERR_FORMAT,
                        "%s: %s tensor '%s' has an unexpected shape (want [out, %s, %d, %d])",
                        sdc_checkpoint_path(src->ck), src->what, name, want, k, k);
    }
    *in_found = (int)t->shape[1];
    return with_path(src, sdc_weight_load(w, t, (int)t->shape[0], *in_found * k * k, name));
}

sdc_status sdc_layer_vector_load(const sdc_layer_source *src, const char *prefix,
                                 const char *suffix, const char *leaf, int n, float **out)
{
    char name[256];
    const sdc_tensor *t;
    *out = NULL;
    sdc_status s = require(src, prefix, suffix, leaf, name, sizeof name, &t);
    if (s == SDC_OK)
        s = with_path(src, sdc_vector_load(out, t, n, name));
    return s;
}

/* Registers l under "<prefix>[.<suffix>]" when the source keeps a table. */
static sdc_status register_layer(const sdc_layer_source *src, const char *prefix,
                                 const char *suffix, sdc_layer *l)
{
    char name[256];
    if (!src->table)
        return SDC_OK;
    if (!sdc_layer_name(name, sizeof name, prefix, suffix, NULL))
        return sdc_fail(SDC_ERR_ARG, "%s: %s layer name too long: %s", sdc_checkpoint_path(src->ck),
                        src->what, prefix);
    return sdc_layer_table_add(src->table, name, l);
}

sdc_status sdc_layer_load(const sdc_layer_source *src, const char *prefix, const char *suffix,
                          int in, int k, int with_bias, sdc_layer *l)
{
    memset(l, 0, sizeof *l);
    l->k = k;
    sdc_status s = sdc_layer_weight_load(src, prefix, suffix, in, k, &l->w, &l->in);
    if (s == SDC_OK && with_bias)
        s = sdc_layer_vector_load(src, prefix, suffix, "bias", l->w.rows, &l->bias);
    if (s == SDC_OK)
        s = register_layer(src, prefix, suffix, l);
    if (s != SDC_OK)
        sdc_layer_free(l);
    return s;
}

sdc_status sdc_layer_check_out(const sdc_layer_source *src, const char *prefix,
                               const char *suffix, const sdc_layer *l, int want)
{
    if (l->w.rows == want)
        return SDC_OK;
    return sdc_fail(SDC_ERR_FORMAT, "%s: %s layer '%s%s%s' has %d outputs, expected %d",
                    sdc_checkpoint_path(src->ck), src->what, prefix, suffix ? "." : "",
                    suffix ? suffix : "", l->w.rows, want);
}

sdc_status sdc_norm_load(const sdc_layer_source *src, const char *prefix, const char *suffix,
                         int channels, sdc_norm *n)
{
    n->beta = NULL;
    sdc_status s = sdc_layer_vector_load(src, prefix, suffix, "weight", channels, &n->gamma);
    if (s == SDC_OK)
        s = sdc_layer_vector_load(src, prefix, suffix, "bias", channels, &n->beta);
    if (s != SDC_OK)
        sdc_norm_free(n);
    return s;
}
