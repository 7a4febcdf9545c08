#include "unet/unet_impl.h"

#include <stdio.h>
#include <stdlib.h>

#include "ops/error.h"

_Static_assert(SDC_UNET_MAX_BLOCKS + 2 == SDC_UNET_MAX_RESIDUALS, "residual bound");

/* The family's head rule (see unet.h); for a checkpoint of unknown family, from the first
 * transformer's projection as the families differ there too. */
static void pick_head_rule(sdc_unet *u, const sdc_layer_source *src)
{
    static const sdc_unet_heads sd1 = {.count = 8}, sd2 = {.size = 64};
    /* the x4 upscaler, the one SD UNet with a class table, has 8 heads at every level */
    if (sdc_unet_tensor(src, "label_emb", "weight")) {
        u->heads = sd1;
        return;
    }
    switch (sdc_checkpoint_family(src->ck)) {
    case SDC_FAMILY_SD1: u->heads = sd1; return;
    case SDC_FAMILY_SD2: u->heads = sd2; return;
    default: break;
    }
    char p[SDC_UNET_PREFIX_MAX];
    u->heads = sd1;
    for (int i = 1; i <= SDC_UNET_MAX_BLOCKS; i++) {
        sdc_unet_prefix(p, "input_blocks.%d.1", i);
        if (sdc_unet_transformer_present(src, p)) {
            u->heads = sdc_unet_transformer_linear(src, p) ? sd2 : sd1;
            return;
        }
    }
    if (sdc_unet_transformer_linear(src, "middle_block.1"))
        u->heads = sd2;
}

static sdc_status too_many(const sdc_layer_source *src, const char *what)
{
    return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: unet has more than %d %s", sdc_checkpoint_path(src->ck),
                    SDC_UNET_MAX_BLOCKS, what);
}

static sdc_status arrays_alloc(sdc_unet *u, const sdc_layer_source *src)
{
    int n = SDC_UNET_MAX_BLOCKS + 1;
    u->skip_c = calloc((size_t)n, sizeof(int));
    u->skip_level = calloc((size_t)n, sizeof(int));
    u->input = calloc(SDC_UNET_MAX_BLOCKS, sizeof *u->input);
    u->output = calloc(SDC_UNET_MAX_BLOCKS, sizeof *u->output);
    u->output_level = calloc(SDC_UNET_MAX_BLOCKS, sizeof(int));
    if (!u->skip_c || !u->skip_level || !u->input ||
        !u->output || !u->output_level)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory loading the unet",
                        sdc_checkpoint_path(src->ck));
    return SDC_OK;
}

/* input_blocks.0 (conv_in) and input_blocks.1..; *C: channels flowing out. */
static sdc_status encoder_load(sdc_unet *u, const sdc_layer_source *src, int *C)
{
    sdc_status s = sdc_layer_load(src, "input_blocks.0", "0", -1, 3, 1, &u->conv_in);
    if (s != SDC_OK)
        return s;
    u->in_channels = u->conv_in.in;
    *C = u->conv_in.w.rows;
    u->skip_c[u->n_skip++] = *C;
    int level = 0;
    char p[SDC_UNET_PREFIX_MAX];
    for (int i = 1;; i++) {
        sdc_unet_prefix(p, "input_blocks.%d", i);
        if (!sdc_unet_block_present(src, p))
            return SDC_OK;
        if (u->n_input == SDC_UNET_MAX_BLOCKS)
            return too_many(src, "input blocks");
        sdc_unet_block *b = &u->input[u->n_input];
        s = sdc_unet_block_load(b, src, p, *C, u->time.dim, &u->context_dim, &u->heads);
        if (s != SDC_OK)
            return s;
        u->n_input++;
        if (b->has_up)
            return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: unet input block '%s' up-samples",
                            sdc_checkpoint_path(src->ck), p);
        *C = b->c_out;
        level += b->has_down;
        u->skip_level[u->n_skip] = level;
        u->skip_c[u->n_skip++] = *C;
    }
}

/* middle_block: resnet, transformer, resnet. */
static sdc_status middle_load(sdc_unet *u, const sdc_layer_source *src, int *C)
{
    sdc_status s = sdc_unet_resnet_load(&u->mid_resnet1, src, "middle_block.0", *C, u->time.dim);
    if (s != SDC_OK)
        return s;
    *C = u->mid_resnet1.c_out;
    s = sdc_unet_transformer_load(&u->mid_attn, src, "middle_block.1", *C, &u->context_dim,
                                  &u->heads);
    if (s != SDC_OK)
        return s;
    s = sdc_unet_resnet_load(&u->mid_resnet2, src, "middle_block.2", *C, u->time.dim);
    if (s == SDC_OK)
        *C = u->mid_resnet2.c_out;
    return s;
}

static sdc_status resolution_mismatch(const sdc_layer_source *src, const char *block)
{
    return sdc_fail(SDC_ERR_FORMAT, "%s: unet %s does not meet a skip tensor of its resolution "
                    "(upsamplers and downsamplers do not pair up)", sdc_checkpoint_path(src->ck),
                    block);
}

/* output_blocks.*: each takes the last unused skip tensor, which must have been made at the
 * same resolution; decoder levels count the upsamplers. */
static sdc_status decoder_load(sdc_unet *u, const sdc_layer_source *src, int *C)
{
    char p[SDC_UNET_PREFIX_MAX];
    int level = 0, resolution = u->skip_level[u->n_skip - 1];
    for (int j = 0;; j++) {
        sdc_unet_prefix(p, "output_blocks.%d", j);
        if (!sdc_unet_block_present(src, p))
            break;
        if (u->n_output == u->n_skip)
            return sdc_fail(SDC_ERR_FORMAT, "%s: unet has more output blocks than skip tensors "
                            "(%d)", sdc_checkpoint_path(src->ck), u->n_skip);
        if (u->skip_level[u->n_skip - 1 - u->n_output] != resolution)
            return resolution_mismatch(src, p);
        int c_skip = u->skip_c[u->n_skip - 1 - u->n_output];
        sdc_unet_block *b = &u->output[u->n_output];
        sdc_status s = sdc_unet_block_load(b, src, p, *C + c_skip, u->time.dim, &u->context_dim,
                                           &u->heads);
        if (s != SDC_OK)
            return s;
        u->output_level[u->n_output++] = level;
        if (!b->has_resnet)
            return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: unet output block '%s' has no resnet",
                            sdc_checkpoint_path(src->ck), p);
        level += b->has_up;
        resolution -= b->has_up;
        *C = b->c_out;
    }
    if (resolution != 0)
        return resolution_mismatch(src, "output");
    if (u->n_output != u->n_skip)
        return sdc_fail(SDC_ERR_FORMAT, "%s: unet has %d output blocks for %d skip tensors",
                        sdc_checkpoint_path(src->ck), u->n_output, u->n_skip);
    return SDC_OK;
}

static sdc_status head_load(sdc_unet *u, const sdc_layer_source *src, int C)
{
    sdc_status s = sdc_unet_check_groups(src, "out", C);
    if (s == SDC_OK)
        s = sdc_norm_load(src, "out", "0", C, &u->norm_out);
    if (s == SDC_OK)
        s = sdc_layer_load(src, "out", "2", C, 3, 1, &u->conv_out);
    if (s == SDC_OK)
        u->out_channels = u->conv_out.w.rows;
    return s;
}

/* label_emb: SDXL's MLP (label_emb.0.0, SiLU, label_emb.0.2) on the label vector, or the
 * x4 upscaler's class table (label_emb.weight [classes, time.dim]); most UNets have none. */
static sdc_status label_load(sdc_unet *u, const sdc_layer_source *src)
{
    const sdc_tensor *table = sdc_unet_tensor(src, "label_emb", "weight");
    if (table) {
        if (table->ndim != 2 || table->shape[1] != u->time.dim || table->shape[0] < 1 ||
            table->shape[0] > SDC_UNET_MAX_DIM || !sdc_dtype_is_weight(table->dtype))
            return sdc_fail(SDC_ERR_FORMAT, "%s: unet label_emb.weight is not a [classes, %d] "
                            "float table", sdc_checkpoint_path(src->ck), u->time.dim);
        u->classes = table;
        u->label_dim = 1;
        return SDC_OK;
    }
    if (!sdc_unet_tensor(src, "label_emb", "0.0.weight"))
        return SDC_OK;
    sdc_status s = sdc_layer_load(src, "label_emb", "0.0", -1, 1, 1, &u->label1);
    if (s == SDC_OK)
        s = sdc_layer_check_out(src, "label_emb", "0.0", &u->label1, u->time.dim);
    if (s == SDC_OK)
        s = sdc_layer_load(src, "label_emb", "0.2", u->time.dim, 1, 1, &u->label2);
    if (s == SDC_OK)
        s = sdc_layer_check_out(src, "label_emb", "0.2", &u->label2, u->time.dim);
    if (s == SDC_OK)
        u->label_dim = u->label1.in;
    return s;
}

static sdc_status unet_load(sdc_unet *u, const sdc_layer_source *src, int encoder_only)
{
    int C = 0;
    u->context_dim = -1;
    pick_head_rule(u, src);
    sdc_status s = arrays_alloc(u, src);
    if (s == SDC_OK)
        s = sdc_unet_time_embed_load(&u->time, src);
    if (s == SDC_OK)
        s = label_load(u, src);
    if (s == SDC_OK)
        s = encoder_load(u, src, &C);
    if (s == SDC_OK)
        s = middle_load(u, src, &C);
    if (s == SDC_OK && !encoder_only)
        s = decoder_load(u, src, &C);
    if (s == SDC_OK && !encoder_only)
        s = head_load(u, src, C);
    if (u->context_dim < 0)
        u->context_dim = 0;
    return s;
}

static sdc_status load(const sdc_checkpoint *ck, int encoder_only, sdc_unet **out)
{
    *out = NULL;
    sdc_unet *u = calloc(1, sizeof *u);
    if (!u)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory loading the unet",
                        sdc_checkpoint_path(ck));
    sdc_arena_init(&u->arena);
    sdc_layer_source src = sdc_unet_source(ck, &u->layers);
    sdc_status s = unet_load(u, &src, encoder_only);
    if (s != SDC_OK) {
        sdc_unet_free(u);
        return s;
    }
    *out = u;
    return SDC_OK;
}

sdc_status sdc_unet_load(const sdc_checkpoint *ck, sdc_unet **out)
{
    return load(ck, 0, out);
}

sdc_status sdc_unet_load_encoder(const sdc_checkpoint *ck, sdc_unet **out)
{
    return load(ck, 1, out);
}

void sdc_unet_free(sdc_unet *u)
{
    if (!u)
        return;
    sdc_unet_time_embed_free(&u->time);
    sdc_layer_free(&u->label1);
    sdc_layer_free(&u->label2);
    sdc_layer_free(&u->conv_in);
    for (int i = 0; u->input && i < u->n_input; i++)
        sdc_unet_block_free(&u->input[i]);
    sdc_unet_resnet_free(&u->mid_resnet1);
    sdc_unet_transformer_free(&u->mid_attn);
    sdc_unet_resnet_free(&u->mid_resnet2);
    for (int j = 0; u->output && j < u->n_output; j++)
        sdc_unet_block_free(&u->output[j]);
    sdc_norm_free(&u->norm_out);
    sdc_layer_free(&u->conv_out);
    free(u->input);
    free(u->output);
    free(u->output_level);
    free(u->skip_c);
    free(u->skip_level);
    sdc_freeu_free(&u->freeu);
    sdc_arena_free(&u->arena);
    sdc_layer_table_free(&u->layers);
    free(u);
}

void sdc_unet_set_freeu(sdc_unet *u, const sdc_freeu_params *params)
{
    /* diffusers' up blocks test all four factors for truth: any zero turns FreeU off */
    u->freeu.enabled = params && params->b1 != 0.0f && params->b2 != 0.0f &&
                       params->s1 != 0.0f && params->s2 != 0.0f;
    if (params)
        u->freeu.params = *params;
}

int sdc_unet_in_channels(const sdc_unet *u) { return u->in_channels; }
int sdc_unet_out_channels(const sdc_unet *u) { return u->out_channels; }
int sdc_unet_context_dim(const sdc_unet *u) { return u->context_dim; }
int sdc_unet_label_dim(const sdc_unet *u) { return u->label_dim; }
sdc_layer_table *sdc_unet_layers(sdc_unet *u) { return &u->layers; }
int sdc_unet_skip_count(const sdc_unet *u) { return u->n_skip; }
int sdc_unet_mid_channels(const sdc_unet *u) { return u->mid_resnet2.c_out; }

void sdc_unet_skip_shape(const sdc_unet *u, int i, int h, int w, int *c, int *sh, int *sw)
{
    /* each downsampler (3x3, stride 2, pad 1) gives ceil(n / 2) */
    for (int l = 0; l < u->skip_level[i]; l++)
        h = (h + 1) / 2, w = (w + 1) / 2;
    *c = u->skip_c[i];
    *sh = h;
    *sw = w;
}
size_t sdc_unet_arena_peak(const sdc_unet *u) { return u->arena.peak; }

void sdc_unet_free_activations(sdc_unet *u)
{
    if (u)
        sdc_arena_free(&u->arena);
}
