#include "unet/transformer.h"

#include <stdio.h>
#include <stdlib.h>

#include "ops/error.h"
#include "ops/geglu.h"
#include "ops/nn.h"

#define GROUP_NORM_EPS 1e-6f
#define LAYER_NORM_EPS 1e-5f
/* Transformer blocks per spatial transformer accepted from a checkpoint (SDXL: 10). */
#define MAX_DEPTH 64
/* The feed-forward runs over this many tokens at a time: its hidden layer is 12x the token
 * width, which at 1024x1024 would otherwise need several hundred MB. */
#define FF_ROWS 1024

int sdc_unet_transformer_present(const sdc_layer_source *src, const char *prefix)
{
    return sdc_layer_peek(src, prefix, "proj_in.weight", NULL) != NULL;
}

int sdc_unet_transformer_linear(const sdc_layer_source *src, const char *prefix)
{
    const sdc_tensor *t = sdc_layer_peek(src, prefix, "proj_in.weight", NULL); /* shape only */
    return t && t->ndim == 2;
}

static sdc_status feed_forward_load(sdc_unet_transformer_block *b, const sdc_layer_source *src,
                                    const char *prefix, int inner)
{
    sdc_status s = sdc_layer_load(src, prefix, "ff.net.0.proj", inner, 1, 1, &b->ff_in);
    if (s == SDC_OK && b->ff_in.w.rows % 2 != 0)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: unet tensor '%s.ff.net.0.proj.weight' has an odd row "
                     "count %d (GEGLU needs value and gate halves)", sdc_checkpoint_path(src->ck),
                     prefix, b->ff_in.w.rows);
    if (s == SDC_OK)
        s = sdc_layer_load(src, prefix, "ff.net.2", b->ff_in.w.rows / 2, 1, 1, &b->ff_out);
    if (s == SDC_OK)
        s = sdc_layer_check_out(src, prefix, "ff.net.2", &b->ff_out, inner);
    if (s == SDC_OK)
        s = sdc_layer_prefer_int8(&b->ff_in);
    if (s == SDC_OK)
        s = sdc_layer_prefer_int8(&b->ff_out);
    return s;
}

static void block_free(sdc_unet_transformer_block *b)
{
    sdc_norm_free(&b->norm1);
    sdc_unet_attention_free(&b->attn1);
    sdc_norm_free(&b->norm2);
    sdc_unet_attention_free(&b->attn2);
    sdc_norm_free(&b->norm3);
    sdc_layer_free(&b->ff_in);
    sdc_layer_free(&b->ff_out);
}

/* On failure the caller frees the (calloc-zeroed) block. */
static sdc_status block_load(sdc_unet_transformer_block *b, const sdc_layer_source *src,
                             const char *prefix, int inner, int *context_dim,
                             const sdc_unet_heads *rule)
{
    char p[SDC_UNET_PREFIX_MAX];
    sdc_status s = sdc_norm_load(src, prefix, "norm1", inner, &b->norm1);
    sdc_unet_prefix(p, "%s.attn1", prefix);
    const sdc_tensor *k1 = sdc_layer_peek(src, p, "to_k.weight", NULL); /* shape only */
    /* keys of another width than the tokens can only read the context */
    b->attn1_on_context = k1 && k1->ndim == 2 && k1->shape[1] != inner;
    if (s == SDC_OK)
        s = sdc_unet_attention_load(&b->attn1, src, p, inner,
                                    b->attn1_on_context ? (int)k1->shape[1] : inner, rule);
    if (s == SDC_OK && b->attn1_on_context && *context_dim >= 0 &&
        b->attn1.context_dim != *context_dim)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: unet '%s' reads a %d-wide context, the model's is %d",
                     sdc_checkpoint_path(src->ck), p, b->attn1.context_dim, *context_dim);
    if (s == SDC_OK)
        s = sdc_norm_load(src, prefix, "norm2", inner, &b->norm2);
    sdc_unet_prefix(p, "%s.attn2", prefix);
    if (s == SDC_OK)
        s = sdc_unet_attention_load(&b->attn2, src, p, inner, *context_dim, rule);
    if (s == SDC_OK)
        *context_dim = b->attn2.context_dim;
    if (s == SDC_OK)
        s = sdc_norm_load(src, prefix, "norm3", inner, &b->norm3);
    if (s == SDC_OK)
        s = feed_forward_load(b, src, prefix, inner);
    return s;
}

static int count_blocks(const sdc_layer_source *src, const char *prefix)
{
    char p[SDC_UNET_PREFIX_MAX];
    int n = 0;
    while (n <= MAX_DEPTH) {
        sdc_unet_prefix(p, "%s.transformer_blocks.%d", prefix, n);
        if (!sdc_unet_tensor(src, p, "norm1.weight"))
            break;
        n++;
    }
    return n;
}

static sdc_status blocks_load(sdc_unet_transformer *t, const sdc_layer_source *src,
                              const char *prefix, int *context_dim, const sdc_unet_heads *rule)
{
    t->depth = count_blocks(src, prefix);
    if (t->depth < 1 || t->depth > MAX_DEPTH)
        return sdc_fail(SDC_ERR_FORMAT, "%s: unet transformer '%s' has %d blocks (want 1..%d)",
                        sdc_checkpoint_path(src->ck), prefix, t->depth, MAX_DEPTH);
    t->blocks = calloc((size_t)t->depth, sizeof *t->blocks);
    if (!t->blocks)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory loading '%s'", sdc_checkpoint_path(src->ck),
                        prefix);
    char p[SDC_UNET_PREFIX_MAX];
    sdc_status s = SDC_OK;
    for (int i = 0; i < t->depth && s == SDC_OK; i++) {
        sdc_unet_prefix(p, "%s.transformer_blocks.%d", prefix, i);
        s = block_load(&t->blocks[i], src, p, t->inner, context_dim, rule);
    }
    return s;
}

sdc_status sdc_unet_transformer_load(sdc_unet_transformer *t, const sdc_layer_source *src,
                                     const char *prefix, int channels, int *context_dim,
                                     const sdc_unet_heads *rule)
{
    t->channels = channels;
    t->blocks = NULL;
    t->depth = 0;
    t->norm = (sdc_norm){0};
    t->proj_in = t->proj_out = (sdc_layer){0};
    sdc_status s = sdc_unet_check_groups(src, prefix, channels);
    if (s == SDC_OK)
        s = sdc_norm_load(src, prefix, "norm", channels, &t->norm);
    if (s == SDC_OK)
        s = sdc_layer_load(src, prefix, "proj_in", channels, 1, 1, &t->proj_in);
    if (s == SDC_OK) {
        t->inner = t->proj_in.w.rows;
        s = blocks_load(t, src, prefix, context_dim, rule);
    }
    if (s == SDC_OK)
        s = sdc_layer_load(src, prefix, "proj_out", t->inner, 1, 1, &t->proj_out);
    if (s == SDC_OK)
        s = sdc_layer_check_out(src, prefix, "proj_out", &t->proj_out, channels);
    if (s != SDC_OK)
        sdc_unet_transformer_free(t);
    return s;
}

void sdc_unet_transformer_free(sdc_unet_transformer *t)
{
    for (int i = 0; t->blocks && i < t->depth; i++)
        block_free(&t->blocks[i]);
    free(t->blocks);
    t->blocks = NULL;
    sdc_norm_free(&t->norm);
    sdc_layer_free(&t->proj_in);
    sdc_layer_free(&t->proj_out);
}

static sdc_status nomem(sdc_arena *arena, size_t mark)
{
    sdc_arena_release(arena, mark);
    return sdc_fail(SDC_ERR_NOMEM, "unet: out of memory for transformer activations");
}

/* h [M, inner] += ff(LN3(h)), FF_ROWS tokens at a time. */
static sdc_status feed_forward(const sdc_unet_transformer_block *b, sdc_arena *arena, float *h,
                               int M, int inner)
{
    int ff = b->ff_out.in;
    int rows = M < FF_ROWS ? M : FF_ROWS;
    size_t mark = sdc_arena_mark(arena);
    float *n = sdc_arena_floats(arena, (size_t)rows * inner);
    float *proj = sdc_arena_floats(arena, (size_t)rows * 2 * ff);
    float *gated = sdc_arena_floats(arena, (size_t)rows * ff);
    float *o = sdc_arena_floats(arena, (size_t)rows * inner);
    if (!n || !proj || !gated || !o)
        return nomem(arena, mark);
    for (int r0 = 0; r0 < M; r0 += rows) {
        int nr = M - r0 < rows ? M - r0 : rows;
        float *hr = h + (size_t)r0 * inner;
        sdc_layer_norm(n, hr, nr, inner, b->norm3.gamma, b->norm3.beta, LAYER_NORM_EPS);
        if (sdc_layer_linear(&b->ff_in, proj, n, nr, arena)) // [nr, 2 ff]
            return nomem(arena, mark);
        sdc_geglu(gated, proj, nr, ff); // [nr, ff]
        if (sdc_layer_linear(&b->ff_out, o, gated, nr, arena)) // [nr, inner]
            return nomem(arena, mark);
        sdc_add(hr, hr, o, (size_t)nr * inner);
    }
    sdc_arena_release(arena, mark);
    return SDC_OK;
}

/* h [B, N, inner] through one transformer block. */
static sdc_status block_forward(const sdc_unet_transformer_block *b, const sdc_unet_pass *p,
                                float *h, int N, int inner)
{
    int M = p->B * N;
    size_t n_tok = (size_t)M * inner, mark = sdc_arena_mark(p->arena);
    float *n = sdc_arena_floats(p->arena, n_tok);
    float *o = sdc_arena_floats(p->arena, n_tok);
    if (!n || !o)
        return nomem(p->arena, mark);
    sdc_layer_norm(n, h, M, inner, b->norm1.gamma, b->norm1.beta, LAYER_NORM_EPS);
    sdc_status s = b->attn1_on_context
                       ? sdc_unet_attention_forward(&b->attn1, p->arena, o, n, p->B, N,
                                                    p->context, p->T)
                       : sdc_unet_attention_forward(&b->attn1, p->arena, o, n, p->B, N, n, N);
    if (s == SDC_OK) {
        sdc_add(h, h, o, n_tok);
        sdc_layer_norm(n, h, M, inner, b->norm2.gamma, b->norm2.beta, LAYER_NORM_EPS);
        s = sdc_unet_attention_forward(&b->attn2, p->arena, o, n, p->B, N, p->context, p->T);
    }
    if (s == SDC_OK) {
        sdc_add(h, h, o, n_tok);
        sdc_arena_release(p->arena, mark);
        return feed_forward(b, p->arena, h, M, inner);
    }
    sdc_arena_release(p->arena, mark);
    return s;
}

/* h [B, HW, inner] = proj_in(GN(x [B, C, HW]) as tokens). */
static sdc_status tokens_in(const sdc_unet_transformer *t, const sdc_unet_pass *p, float *h,
                            const float *x, int HW)
{
    int B = p->B, C = t->channels;
    size_t n = (size_t)B * C * HW, mark = sdc_arena_mark(p->arena);
    float *a = sdc_arena_floats(p->arena, n);
    float *tok = sdc_arena_floats(p->arena, n);
    if (!a || !tok)
        return nomem(p->arena, mark);
    sdc_group_norm(a, x, B, C, HW, SDC_UNET_GROUPS, t->norm.gamma, t->norm.beta, GROUP_NORM_EPS,
                   0);
    sdc_nchw_to_nhwc(tok, a, B, C, HW);                        // [B, HW, C]
    if (sdc_layer_linear(&t->proj_in, h, tok, B * HW, p->arena)) // [B, HW, inner]
        return nomem(p->arena, mark);
    sdc_arena_release(p->arena, mark);
    return SDC_OK;
}

/* x [B, C, HW] += proj_out(h [B, HW, inner]) back in NCHW. */
static sdc_status tokens_out(const sdc_unet_transformer *t, const sdc_unet_pass *p, float *x,
                             const float *h, int HW)
{
    int B = p->B, C = t->channels;
    size_t n = (size_t)B * C * HW, mark = sdc_arena_mark(p->arena);
    float *tok = sdc_arena_floats(p->arena, n);
    float *a = sdc_arena_floats(p->arena, n);
    if (!a || !tok)
        return nomem(p->arena, mark);
    if (sdc_layer_linear(&t->proj_out, tok, h, B * HW, p->arena)) // [B, HW, C]
        return nomem(p->arena, mark);
    sdc_nhwc_to_nchw(a, tok, B, C, HW); // [B, C, HW]
    sdc_add(x, x, a, n);
    sdc_arena_release(p->arena, mark);
    return SDC_OK;
}

sdc_status sdc_unet_transformer_forward(const sdc_unet_transformer *t, const sdc_unet_pass *p,
                                        float *x, int H, int W)
{
    int HW = H * W;
    size_t mark = sdc_arena_mark(p->arena);
    float *h = sdc_arena_floats(p->arena, (size_t)p->B * HW * t->inner);
    if (!h)
        return nomem(p->arena, mark);
    sdc_status s = tokens_in(t, p, h, x, HW);
    for (int i = 0; i < t->depth && s == SDC_OK; i++)
        s = block_forward(&t->blocks[i], p, h, HW, t->inner);
    if (s == SDC_OK)
        s = tokens_out(t, p, x, h, HW);
    sdc_arena_release(p->arena, mark);
    return s;
}
