#include "unet/attention.h"

#include <math.h>
#include <string.h>

#include "ops/error.h"
#include "ops/nn.h"

/* Largest head size sdc_attention accepts. */
#define MAX_HEAD_DIM 256

static sdc_status split_heads(sdc_unet_attention *a, const sdc_layer_source *src,
                              const char *prefix, const sdc_unet_heads *rule)
{
    a->heads = rule->count ? rule->count : a->inner / rule->size;
    a->head_dim = a->heads ? a->inner / a->heads : 0;
    if (a->heads < 1 || a->heads * a->head_dim != a->inner || a->head_dim > MAX_HEAD_DIM)
        return sdc_fail(SDC_ERR_UNSUPPORTED,
                        "%s: unet attention '%s' of width %d does not split into heads "
                        "(count %d / size %d, head size at most %d)",
                        sdc_checkpoint_path(src->ck), prefix, a->inner, rule->count, rule->size,
                        MAX_HEAD_DIM);
    return SDC_OK;
}

sdc_status sdc_unet_attention_load(sdc_unet_attention *a, const sdc_layer_source *src,
                                   const char *prefix, int dim, int context_dim,
                                   const sdc_unet_heads *rule)
{
    memset(a, 0, sizeof *a);
    a->dim = dim;
    sdc_status s = sdc_layer_load(src, prefix, "to_q", dim, 1, 0, &a->q);
    if (s == SDC_OK) {
        a->inner = a->q.w.rows;
        s = sdc_layer_load(src, prefix, "to_k", context_dim, 1, 0, &a->k);
    }
    if (s == SDC_OK) {
        a->context_dim = a->k.in;
        s = sdc_layer_check_out(src, prefix, "to_k", &a->k, a->inner);
    }
    if (s == SDC_OK)
        s = sdc_layer_load(src, prefix, "to_v", a->context_dim, 1, 0, &a->v);
    if (s == SDC_OK)
        s = sdc_layer_check_out(src, prefix, "to_v", &a->v, a->inner);
    if (s == SDC_OK)
        s = sdc_layer_load(src, prefix, "to_out.0", a->inner, 1, 1, &a->out);
    if (s == SDC_OK)
        s = sdc_layer_check_out(src, prefix, "to_out.0", &a->out, dim);
    sdc_layer *const int8_layers[] = {&a->q, &a->k, &a->v, &a->out};
    for (int i = 0; i < 4 && s == SDC_OK; i++)
        s = sdc_layer_prefer_int8(int8_layers[i]);
    if (s == SDC_OK)
        s = split_heads(a, src, prefix, rule);
    if (s != SDC_OK)
        sdc_unet_attention_free(a);
    return s;
}

void sdc_unet_attention_free(sdc_unet_attention *a)
{
    sdc_layer_free(&a->q);
    sdc_layer_free(&a->k);
    sdc_layer_free(&a->v);
    sdc_layer_free(&a->out);
}

sdc_status sdc_unet_attention_forward(const sdc_unet_attention *a, sdc_arena *arena, float *y,
                                      const float *x, int B, int Tq, const float *c, int Tk)
{
    size_t mark = sdc_arena_mark(arena);
    size_t nq = (size_t)B * Tq * a->inner, nk = (size_t)B * Tk * a->inner;
    float *q = sdc_arena_floats(arena, nq);
    float *k = sdc_arena_floats(arena, nk);
    float *v = sdc_arena_floats(arena, nk);
    float *o = sdc_arena_floats(arena, nq);
    if (!q || !k || !v || !o) {
        sdc_arena_release(arena, mark);
        return sdc_fail(SDC_ERR_NOMEM, "unet: out of memory for attention activations");
    }
    int bad = sdc_layer_linear(&a->q, q, x, B * Tq, arena) || // [B, Tq, inner]
              sdc_layer_linear(&a->k, k, c, B * Tk, arena) || // [B, Tk, inner]
              sdc_layer_linear(&a->v, v, c, B * Tk, arena);   // [B, Tk, inner]
    if (!bad) {
        sdc_attention(o, q, a->inner, k, v, a->inner, B, a->heads, Tq, Tk, a->head_dim,
                      1.0f / sqrtf((float)a->head_dim), 0); // [B, Tq, inner]
        bad = sdc_layer_linear(&a->out, y, o, B * Tq, arena); // [B, Tq, dim]
    }
    sdc_arena_release(arena, mark);
    return bad ? sdc_fail(SDC_ERR_NOMEM, "unet: out of memory for attention adapters") : SDC_OK;
}
