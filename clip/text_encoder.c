#include "clip/text_encoder.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "clip/text_embeddings.h"
#include "clip/text_family.h"
#include "clip/text_layer.h"
#include "ops/error.h"
#include "ops/nn.h"

/* Most layers accepted from a checkpoint (real models: 12, 23/24 and 32). */
#define MAX_LAYERS 256

struct sdc_text_encoder {
    sdc_text_dims dims;       /* W, F, heads, P, activation */
    int layers;               /* L, stored */
    int cond_layers;          /* layers the family's conditioning runs (<= L) */
    sdc_text_embeddings embed; /* token [V, W], position [P, W] */
    sdc_text_layer *layer;    /* [L] */
    sdc_norm final_norm; /* [W] final_layer_norm */
    int has_projection;       /* pooled rows go through `projection` */
    sdc_layer projection;     /* [P, W] text_projection (no bias) */
    sdc_arena arena;          /* activations of one forward */
    sdc_layer_table table;    /* every linear layer by its Hugging Face CLIP name */
};

/* Layer counts and activation by the family rules (clip/text_family.h). */
static sdc_status read_structure(sdc_text_encoder *te, const sdc_layer_source *src)
{
    const char *path = sdc_checkpoint_path(src->ck);
    sdc_text_family f = sdc_text_family_of(src->ck, src->component);
    te->layers = f.layers;
    te->cond_layers = f.cond_layers;
    te->dims.quick_gelu = f.quick_gelu ? 1 : 0;
    if (te->layers < 1 || te->layers > MAX_LAYERS)
        return sdc_fail(SDC_ERR_FORMAT, "%s: text encoder has %d layers (need 1..%d)", path,
                        te->layers, MAX_LAYERS);
    if (te->cond_layers < 1 || te->cond_layers > te->layers)
        return sdc_fail(SDC_ERR_FORMAT, "%s: text encoder conditioning uses %d of %d layers",
                        path, te->cond_layers, te->layers);
    int W = te->embed.width;
    if (W % SDC_TEXT_HEAD_DIM != 0)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: text encoder width %d is not a multiple of "
                        "the head size %d", path, W, SDC_TEXT_HEAD_DIM);
    te->dims.width = W;
    te->dims.heads = W / SDC_TEXT_HEAD_DIM;
    te->dims.positions = te->embed.positions;
    return SDC_OK;
}

static sdc_status load_layers(sdc_text_encoder *te, const sdc_layer_source *src)
{
    te->layer = calloc((size_t)te->layers, sizeof *te->layer);
    if (!te->layer)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory for the text encoder",
                        sdc_checkpoint_path(src->ck));
    for (int i = 0; i < te->layers; i++) {
        sdc_status s = sdc_text_layer_load(&te->layer[i], src, i, &te->dims);
        if (s != SDC_OK)
            return s;
    }
    return sdc_text_norm_load(src, "text_model.final_layer_norm", te->dims.width,
                              &te->final_norm);
}

/* The pooled output's projection: Hugging Face "text_projection.weight" [P, W], or
 * OpenCLIP's "text_projection" [W, P] (x @ P), kept as an owned transposed copy. */
static sdc_status load_projection(sdc_text_encoder *te, const sdc_layer_source *src)
{
    int W = te->dims.width;
    const sdc_tensor *t;
    if ((t = sdc_layer_find(src, "text_projection", NULL, "weight"))) {
        sdc_status s = sdc_text_check_matrix(src, "text_projection.weight", t, -1, W);
        if (s == SDC_OK) /* CLIPTextModelWithProjection's has no bias */
            s = sdc_layer_load(src, "text_projection", NULL, W, 1, 0, &te->projection);
        te->has_projection = s == SDC_OK;
        return s;
    }
    if (!(t = sdc_layer_find(src, "text_projection", NULL, NULL)))
        return SDC_OK;
    sdc_status s = sdc_text_check_matrix(src, "text_projection", t, W, (int)(t->ndim == 2 ? t->shape[1] : 0));
    sdc_weight view;
    if (s == SDC_OK)
        s = sdc_weight_load(&view, t, W, (int)t->shape[1], "text_projection");
    if (s == SDC_OK)
        s = sdc_weight_transpose_f32(&te->projection.w, &view);
    te->projection.in = W;
    te->projection.k = 1;
    te->has_projection = s == SDC_OK;
    return s;
}

sdc_status sdc_text_encoder_load(const sdc_checkpoint *ck, sdc_text_encoder **out)
{
    return sdc_text_encoder_load_component(ck, SDC_COMPONENT_TEXT, out);
}

sdc_status sdc_text_encoder_load_component(const sdc_checkpoint *ck, sdc_component component,
                                           sdc_text_encoder **out)
{
    *out = NULL;
    sdc_text_encoder *te = calloc(1, sizeof *te);
    if (!te)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory for the text encoder",
                        sdc_checkpoint_path(ck));
    sdc_arena_init(&te->arena);
    sdc_layer_source src = sdc_text_source(ck, component, &te->table);
    sdc_status s = sdc_text_embeddings_load(&te->embed, &src);
    if (s == SDC_OK)
        s = read_structure(te, &src);
    if (s == SDC_OK)
        s = load_layers(te, &src);
    if (s == SDC_OK)
        s = load_projection(te, &src);
    if (s != SDC_OK) {
        sdc_text_encoder_free(te);
        return s;
    }
    *out = te;
    return SDC_OK;
}

void sdc_text_encoder_free(sdc_text_encoder *te)
{
    if (!te)
        return;
    if (te->layer)
        for (int i = 0; i < te->layers; i++)
            sdc_text_layer_free(&te->layer[i]);
    free(te->layer);
    sdc_norm_free(&te->final_norm);
    sdc_layer_free(&te->projection);
    sdc_text_embeddings_free(&te->embed);
    sdc_arena_free(&te->arena);
    sdc_layer_table_free(&te->table);
    free(te);
}

/* Sizes and ids of a forward call; returns the deepest requested layer in *deepest. */
static sdc_status check_inputs(const sdc_text_encoder *te, const int32_t *ids, int B, int T,
                               const sdc_text_request *requests, int count, int *deepest)
{
    int P = te->dims.positions;
    if (B < 1 || T < 1 || T % P != 0 || (long long)B * T > INT_MAX / te->dims.mlp)
        return sdc_fail(SDC_ERR_ARG, "text encoder: cannot encode %d x %d tokens (a multiple "
                        "of %d per row)", B, T, P);
    for (long long i = 0; i < (long long)B * T; i++)
        if (ids[i] < 0 || ids[i] >= te->embed.vocab)
            return sdc_fail(SDC_ERR_ARG, "text encoder: token id %d at position %lld is outside "
                            "the vocabulary of %d", (int)ids[i], i, te->embed.vocab);
    if (!requests || count < 1)
        return sdc_fail(SDC_ERR_ARG, "text encoder: no output requested");
    *deepest = 0;
    for (int r = 0; r < count; r++) {
        if (requests[r].layer < 1 || requests[r].layer > te->layers)
            return sdc_fail(SDC_ERR_ARG, "text encoder: layer %d requested (it has %d)",
                            requests[r].layer, te->layers);
        if (requests[r].layer > *deepest)
            *deepest = requests[r].layer;
    }
    return SDC_OK;
}

/* Index of the first largest id among n: CLIP's EOS token, the highest id in use. */
static int eos_position(const int32_t *ids, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (ids[i] > ids[best])
            best = i;
    return best;
}

/* dst [rows, W] = x, through final_layer_norm when `norm`. */
static void emit_rows(const sdc_text_encoder *te, float *dst, const float *x, int rows, int norm)
{
    int W = te->dims.width;
    if (norm)
        sdc_layer_norm(dst, x, rows, W, te->final_norm.gamma, te->final_norm.beta,
                       SDC_TEXT_LN_EPS);
    else
        memcpy(dst, x, (size_t)rows * W * sizeof *dst);
}

/* Fills request r from the residual stream x [S, P, W] after its layer; pooled rows go
 * through the projection when the encoder has one. */
static sdc_status emit(sdc_text_encoder *te, const sdc_text_request *r, const float *x,
                       const int32_t *ids, int S)
{
    int P = te->dims.positions, W = te->dims.width;
    if (r->hidden)
        emit_rows(te, r->hidden, x, S * P, r->final_norm); // [S, P, W]
    if (!r->pooled)
        return SDC_OK;
    size_t mark = sdc_arena_mark(&te->arena);
    float *rows = te->has_projection ? sdc_arena_floats(&te->arena, (size_t)S * W) : r->pooled;
    if (!rows)
        return sdc_fail(SDC_ERR_NOMEM, "text encoder: out of memory for pooled rows");
    for (int s = 0; s < S; s++) {
        int row = s * P + eos_position(ids + (size_t)s * P, P);
        emit_rows(te, rows + (size_t)s * W, x + (size_t)row * W, 1, r->final_norm); // [S, W]
    }
    int bad = te->has_projection &&
              sdc_layer_linear(&te->projection, r->pooled, rows, S, &te->arena); // [S, P]
    sdc_arena_release(&te->arena, mark);
    return bad ? sdc_fail(SDC_ERR_NOMEM, "text encoder: out of memory for the projection")
               : SDC_OK;
}

sdc_status sdc_text_encoder_forward(sdc_text_encoder *te, const int32_t *ids, int B, int T,
                                    const sdc_text_request *requests, int count)
{
    return sdc_text_encoder_forward_rows(te, ids, NULL, B, T, requests, count);
}

sdc_status sdc_text_encoder_forward_rows(sdc_text_encoder *te, const int32_t *ids,
                                         const float *const *rows, int B, int T,
                                         const sdc_text_request *requests, int count)
{
    int deepest = 0;
    sdc_status s = check_inputs(te, ids, B, T, requests, count, &deepest);
    if (s != SDC_OK)
        return s;
    int S = B * T / te->dims.positions; // each 77-token chunk is its own sequence
    sdc_arena_reset(&te->arena);
    float *x = sdc_arena_floats(&te->arena, (size_t)B * T * te->dims.width);
    if (!x)
        return sdc_fail(SDC_ERR_NOMEM, "text encoder: out of memory for %d x %d tokens", B, T);
    sdc_text_embeddings_forward_rows(&te->embed, ids, rows, S, x); // [S, P, W]
    for (int l = 1; l <= deepest; l++) {
        if ((s = sdc_text_layer_forward(&te->layer[l - 1], &te->dims, &te->arena, x, S)) != SDC_OK)
            return s;
        for (int r = 0; r < count && s == SDC_OK; r++)
            if (requests[r].layer == l)
                s = emit(te, &requests[r], x, ids, S);
        if (s != SDC_OK)
            return s;
    }
    return SDC_OK;
}

sdc_status sdc_text_encoder_skip_layer(const sdc_text_encoder *te, int clip_skip, int *layer)
{
    int skip = clip_skip < 1 ? 1 : clip_skip;
    *layer = te->cond_layers - (skip - 1);
    if (*layer < 1)
        return sdc_fail(SDC_ERR_ARG, "clip skip %d leaves none of the text encoder's %d layers",
                        clip_skip, te->cond_layers);
    return SDC_OK;
}

sdc_layer_table *sdc_text_encoder_layer_table(sdc_text_encoder *te) { return &te->table; }
int sdc_text_encoder_width(const sdc_text_encoder *te) { return te->dims.width; }
int sdc_text_encoder_pooled_dim(const sdc_text_encoder *te)
{
    return te->has_projection ? te->projection.w.rows : te->dims.width;
}
int sdc_text_encoder_positions(const sdc_text_encoder *te) { return te->dims.positions; }
int sdc_text_encoder_vocab(const sdc_text_encoder *te) { return te->embed.vocab; }
int sdc_text_encoder_layers(const sdc_text_encoder *te) { return te->layers; }
int sdc_text_encoder_cond_layers(const sdc_text_encoder *te) { return te->cond_layers; }
int sdc_text_encoder_quick_gelu(const sdc_text_encoder *te) { return te->dims.quick_gelu; }
size_t sdc_text_encoder_arena_peak(const sdc_text_encoder *te) { return te->arena.peak; }

void sdc_text_encoder_free_activations(sdc_text_encoder *te)
{
    if (te)
        sdc_arena_free(&te->arena);
}
