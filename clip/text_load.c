#include "clip/text_load.h"

#include <stdio.h>

#include "ops/error.h"

sdc_layer_source sdc_text_source(const sdc_checkpoint *ck, sdc_component component,
                                 sdc_layer_table *table)
{
    return (sdc_layer_source){ck, component, "text encoder", SDC_TEXT_MAX_DIM, table};
}

sdc_status sdc_text_tensor(const sdc_layer_source *src, const char *prefix, const char *suffix,
                           const sdc_tensor **out)
{
    char name[SDC_TEXT_NAME_MAX];
    *out = NULL;
    if (!sdc_layer_name(name, sizeof name, prefix, suffix, NULL))
        return sdc_fail(SDC_ERR_ARG, "%s: text encoder tensor name '%s.%s' is too long",
                        sdc_checkpoint_path(src->ck), prefix, suffix ? suffix : "");
    return sdc_checkpoint_require(src->ck, src->component, name, out);
}

sdc_status sdc_text_check_matrix(const sdc_layer_source *src, const char *name,
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
                    sdc_checkpoint_path(src->ck), name, t->ndim,
                    (long long)(t->ndim > 0 ? t->shape[0] : 0),
                    (long long)(t->ndim > 1 ? t->shape[1] : 0), want, cols);
}

sdc_status sdc_text_linear_load(const sdc_layer_source *src, const char *prefix, int out,
                                int in, sdc_layer *l)
{
    char name[SDC_TEXT_NAME_MAX];
    const sdc_tensor *w;
    snprintf(name, sizeof name, "%s.weight", prefix);
    /* the shape only: a quantised GGUF matrix stays blocks (sdc_layer_load) */
    w = sdc_checkpoint_peek(src->ck, src->component, name);
    sdc_status s = w ? SDC_OK : sdc_text_tensor(src, prefix, "weight", &w);
    if (s == SDC_OK) /* text encoders store linear maps as plain [out, in] matrices */
        s = sdc_text_check_matrix(src, name, w, out, in);
    return s == SDC_OK ? sdc_layer_load(src, prefix, NULL, in, 1, 1, l) : s;
}

sdc_status sdc_text_norm_load(const sdc_layer_source *src, const char *prefix, int dim,
                              sdc_norm *n)
{
    return sdc_norm_load(src, prefix, NULL, dim, n);
}
