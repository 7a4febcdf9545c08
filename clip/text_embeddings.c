#include "clip/text_embeddings.h"

#include <stdlib.h>
#include <string.h>

#include "clip/text_load.h"
#include "ops/error.h"
#include "ops/weight.h"

#define TOKEN_NAME "text_model.embeddings.token_embedding.weight"
#define POSITION_NAME "text_model.embeddings.position_embedding.weight"

/* The [V, W] token table, used where it is mapped: a prompt reads only its own rows. */
static sdc_status load_tokens(sdc_text_embeddings *e, const sdc_layer_source *src,
                              const sdc_tensor *t)
{
    if (!sdc_dtype_is_weight(t->dtype))
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: text encoder tensor '%s' has dtype %s",
                        sdc_checkpoint_path(src->ck), TOKEN_NAME, sdc_dtype_name(t->dtype));
    if (t->ndim != 2 || t->shape[0] < 1 || t->shape[0] > SDC_TEXT_MAX_VOCAB ||
        t->shape[1] < 1 || t->shape[1] > SDC_TEXT_MAX_DIM)
        return sdc_fail(SDC_ERR_FORMAT, "%s: text encoder tensor '%s' is not a [vocab, width] "
                        "table (%d dims, [%lld, %lld])", sdc_checkpoint_path(src->ck), TOKEN_NAME,
                        t->ndim, (long long)t->shape[0],
                        (long long)(t->ndim > 1 ? t->shape[1] : 0));
    e->vocab = (int)t->shape[0];
    e->width = (int)t->shape[1];
    e->dtype = t->dtype;
    e->tokens = t->data;
    return SDC_OK;
}

static sdc_status load_positions(sdc_text_embeddings *e, const sdc_layer_source *src,
                                 const sdc_tensor *t)
{
    sdc_status s = sdc_text_check_matrix(src, POSITION_NAME, t, -1, e->width);
    if (s != SDC_OK)
        return s;
    if (t->shape[0] > SDC_TEXT_MAX_POSITIONS)
        return sdc_fail(SDC_ERR_FORMAT, "%s: text encoder tensor '%s' has %lld positions "
                        "(at most %d)", sdc_checkpoint_path(src->ck), POSITION_NAME,
                        (long long)t->shape[0], SDC_TEXT_MAX_POSITIONS);
    e->positions = (int)t->shape[0];
    if ((s = sdc_vector_load(&e->position, t, e->positions * e->width, POSITION_NAME)) != SDC_OK)
        sdc_error_prefix("%s: text encoder", sdc_checkpoint_path(src->ck));
    return s;
}

sdc_status sdc_text_embeddings_load(sdc_text_embeddings *e, const sdc_layer_source *src)
{
    memset(e, 0, sizeof *e);
    const sdc_tensor *tok, *pos;
    sdc_status s = sdc_text_tensor(src, TOKEN_NAME, NULL, &tok);
    if (s == SDC_OK)
        s = sdc_text_tensor(src, POSITION_NAME, NULL, &pos);
    if (s == SDC_OK)
        s = load_tokens(e, src, tok);
    if (s == SDC_OK)
        s = load_positions(e, src, pos);
    if (s != SDC_OK)
        sdc_text_embeddings_free(e);
    return s;
}

void sdc_text_embeddings_free(sdc_text_embeddings *e)
{
    free(e->position);
    e->tokens = NULL;
    e->position = NULL;
}

void sdc_text_embeddings_forward(const sdc_text_embeddings *e, const int32_t *ids, int S,
                                 float *x)
{
    sdc_text_embeddings_forward_rows(e, ids, NULL, S, x);
}

void sdc_text_embeddings_forward_rows(const sdc_text_embeddings *e, const int32_t *ids,
                                      const float *const *rows, int S, float *x)
{
    int P = e->positions, W = e->width;
    size_t row_bytes = (size_t)W * sdc_dtype_size(e->dtype);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < S * P; r++) {
        float *xr = x + (size_t)r * W;
        const float *pos = e->position + (size_t)(r % P) * W;
        if (rows && rows[r])
            memcpy(xr, rows[r], (size_t)W * sizeof *xr);
        else
            sdc_convert_to_f32(xr, (const char *)e->tokens + (size_t)ids[r] * row_bytes,
                               e->dtype, (size_t)W);
        for (int i = 0; i < W; i++)
            xr[i] += pos[i];
    }
}
