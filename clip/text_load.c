#include "clip/text_load.h"

#include <stdio.h>
#include <stdlib.h>

#include "ops/error.h"

sdc_status sdc_text_tensor(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                           const sdc_tensor **out)
{
    char name[SDC_TEXT_NAME_MAX];
    int n = suffix ? snprintf(name, sizeof name, "%s.%s", prefix, suffix)
                   : snprintf(name, sizeof name, "%s", prefix);
    *out = NULL;
    if (n < 0 || n >= (int)sizeof name)
        return sdc_fail(SDC_ERR_ARG, "%s: text encoder tensor name '%s.%s' is too long",
                        sdc_checkpoint_path(ck), prefix, suffix ? suffix : "");
    return sdc_checkpoint_require(ck, SDC_COMPONENT_TEXT, name, out);
}

sdc_status sdc_text_check_matrix(const sdc_checkpoint *ck, const char *name,
                                 const sdc_tensor *t, int rows, int cols)
{
    int ok = t->ndim == 2 && t->shape[1] == cols &&
             (rows > 0 ? t->shape[0] == rows : t->shape[0] >= 1 && t->shape[0] <= SDC_TEXT_MAX_DIM);
    if (ok)
        return SDC_OK;
    char want[24] = "N";
    if (rows > 0)
        snprintf(want, sizeof want, "%d", rows);
    return sdc_fail(SDC_ERR_FORMAT,
                    "%s: text encoder tensor '%s' has %d dims [%lld, %lld, ...], expected [%s, %d]",
                    sdc_checkpoint_path(ck), name, t->ndim,
                    (long long)(t->ndim > 0 ? t->shape[0] : 0),
                    (long long)(t->ndim > 1 ? t->shape[1] : 0), want, cols);
}

/* Converts the vector "<prefix>.<suffix>" of n elements. */
static sdc_status load_vector(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                              int n, float **out)
{
    *out = NULL;
    char name[SDC_TEXT_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    const sdc_tensor *t;
    sdc_status s = sdc_text_tensor(ck, prefix, suffix, &t);
    if (s == SDC_OK && (s = sdc_vector_load(out, t, n, name)) != SDC_OK)
        sdc_error_prefix("%s: text encoder", sdc_checkpoint_path(ck));
    return s;
}

sdc_status sdc_text_linear_load(const sdc_checkpoint *ck, const char *prefix, int out, int in,
                                sdc_text_linear *l)
{
    l->w.data = NULL;
    l->bias = NULL;
    char name[SDC_TEXT_NAME_MAX];
    snprintf(name, sizeof name, "%s.weight", prefix);
    const sdc_tensor *w;
    sdc_status s = sdc_text_tensor(ck, prefix, "weight", &w);
    if (s == SDC_OK)
        s = sdc_text_check_matrix(ck, name, w, out, in);
    if (s == SDC_OK && (s = sdc_weight_load(&l->w, w, (int)w->shape[0], in, name)) != SDC_OK)
        sdc_error_prefix("%s: text encoder", sdc_checkpoint_path(ck));
    if (s == SDC_OK)
        s = load_vector(ck, prefix, "bias", l->w.rows, &l->bias);
    if (s != SDC_OK)
        sdc_text_linear_free(l);
    return s;
}

void sdc_text_linear_free(sdc_text_linear *l)
{
    sdc_weight_free(&l->w);
    free(l->bias);
    l->bias = NULL;
}

sdc_status sdc_text_norm_load(const sdc_checkpoint *ck, const char *prefix, int dim,
                              sdc_text_norm *n)
{
    n->beta = NULL;
    sdc_status s = load_vector(ck, prefix, "weight", dim, &n->gamma);
    if (s == SDC_OK)
        s = load_vector(ck, prefix, "bias", dim, &n->beta);
    if (s != SDC_OK)
        sdc_text_norm_free(n);
    return s;
}

void sdc_text_norm_free(sdc_text_norm *n)
{
    free(n->gamma);
    free(n->beta);
    n->gamma = n->beta = NULL;
}
