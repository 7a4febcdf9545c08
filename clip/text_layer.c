#include "clip/text_layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/error.h"
#include "ops/nn.h"

/* name [SDC_TEXT_NAME_MAX] = "text_model.encoder.layers.<index>.<part>" */
static const char *layer_name(char *name, int index, const char *part)
{
    snprintf(name, SDC_TEXT_NAME_MAX, "text_model.encoder.layers.%d.%s", index, part);
    return name;
}

sdc_status sdc_text_layer_load(sdc_text_layer *l, const sdc_layer_source *src, int index,
                               sdc_text_dims *dims)
{
    memset(l, 0, sizeof *l);
    int W = dims->width;
    char n[SDC_TEXT_NAME_MAX];
    sdc_status s = sdc_text_norm_load(src, layer_name(n, index, "layer_norm1"), W, &l->ln1);
    if (s == SDC_OK)
        s = sdc_text_linear_load(src, layer_name(n, index, "self_attn.q_proj"), W, W, &l->q);
    if (s == SDC_OK)
        s = sdc_text_linear_load(src, layer_name(n, index, "self_attn.k_proj"), W, W, &l->k);
    if (s == SDC_OK)
        s = sdc_text_linear_load(src, layer_name(n, index, "self_attn.v_proj"), W, W, &l->v);
    if (s == SDC_OK)
        s = sdc_text_linear_load(src, layer_name(n, index, "self_attn.out_proj"), W, W, &l->out);
    if (s == SDC_OK)
        s = sdc_text_norm_load(src, layer_name(n, index, "layer_norm2"), W, &l->ln2);
    if (s == SDC_OK)
        s = sdc_text_linear_load(src, layer_name(n, index, "mlp.fc1"), dims->mlp, W, &l->fc1);
    if (s == SDC_OK && dims->mlp == 0)
        dims->mlp = l->fc1.w.rows;
    if (s == SDC_OK)
        s = sdc_text_linear_load(src, layer_name(n, index, "mlp.fc2"), W, dims->mlp, &l->fc2);
    sdc_layer *const int8_layers[] = {&l->q, &l->k, &l->v, &l->out, &l->fc1, &l->fc2};
    for (int i = 0; i < 6 && s == SDC_OK; i++)
        s = sdc_layer_prefer_int8(int8_layers[i]);
    if (s != SDC_OK)
        sdc_text_layer_free(l);
    return s;
}

void sdc_text_layer_free(sdc_text_layer *l)
{
    sdc_norm_free(&l->ln1);
    sdc_layer_free(&l->q);
    sdc_layer_free(&l->k);
    sdc_layer_free(&l->v);
    sdc_layer_free(&l->out);
    sdc_norm_free(&l->ln2);
    sdc_layer_free(&l->fc1);
    sdc_layer_free(&l->fc2);
}

/* x [N, W] += out_proj(attention(ln1(x))), each of the S sequences attending causally to
 * its own P tokens. */
static int attention_block(const sdc_text_layer *l, const sdc_text_dims *d, sdc_arena *arena,
                           float *x, int S, float *h, float *q, float *k, float *v, float *o)
{
    int W = d->width, N = S * d->positions;
    int head_dim = W / d->heads;
    sdc_layer_norm(h, x, N, W, l->ln1.gamma, l->ln1.beta, SDC_TEXT_LN_EPS); // [N, W]
    if (sdc_layer_linear(&l->q, q, h, N, arena) || sdc_layer_linear(&l->k, k, h, N, arena) ||
        sdc_layer_linear(&l->v, v, h, N, arena)) // [N, W] each
        return -1;
    sdc_attention(o, q, W, k, v, W, S, d->heads, d->positions, d->positions, head_dim,
                  1.0f / sqrtf((float)head_dim), 1); // [S, P, W]
    if (sdc_layer_linear(&l->out, h, o, N, arena)) // [N, W]
        return -1;
    sdc_add(x, x, h, (size_t)N * W);
    return 0;
}

/* x [N, W] += fc2(act(fc1(ln2(x)))); m is [N, F] scratch. */
static int mlp_block(const sdc_text_layer *l, const sdc_text_dims *d, sdc_arena *arena,
                     float *x, int N, float *h, float *m)
{
    int W = d->width;
    sdc_layer_norm(h, x, N, W, l->ln2.gamma, l->ln2.beta, SDC_TEXT_LN_EPS); // [N, W]
    if (sdc_layer_linear(&l->fc1, m, h, N, arena)) // [N, F]
        return -1;
    if (d->quick_gelu)
        sdc_quick_gelu(m, (size_t)N * d->mlp);
    else
        sdc_gelu(m, (size_t)N * d->mlp);
    if (sdc_layer_linear(&l->fc2, h, m, N, arena)) // [N, W]
        return -1;
    sdc_add(x, x, h, (size_t)N * W);
    return 0;
}

sdc_status sdc_text_layer_forward(const sdc_text_layer *l, const sdc_text_dims *d,
                                  sdc_arena *arena, float *x, int S)
{
    size_t mark = sdc_arena_mark(arena);
    int N = S * d->positions;
    size_t nw = (size_t)N * d->width;
    float *h = sdc_arena_floats(arena, nw);
    float *q = sdc_arena_floats(arena, nw);
    float *k = sdc_arena_floats(arena, nw);
    float *v = sdc_arena_floats(arena, nw);
    float *o = sdc_arena_floats(arena, nw);
    float *m = sdc_arena_floats(arena, (size_t)N * d->mlp);
    if (!h || !q || !k || !v || !o || !m) {
        sdc_arena_release(arena, mark);
        return sdc_fail(SDC_ERR_NOMEM, "text encoder: out of memory for %d tokens", N);
    }
    int bad = attention_block(l, d, arena, x, S, h, q, k, v, o) ||
              mlp_block(l, d, arena, x, N, h, m);
    sdc_arena_release(arena, mark);
    return bad ? sdc_fail(SDC_ERR_NOMEM, "text encoder: out of memory for adapters") : SDC_OK;
}
