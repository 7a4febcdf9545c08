#include "unet/block.h"

#include <stdio.h>
#include <string.h>

#include "ops/error.h"
#include "ops/nn.h"

static int has(const sdc_layer_source *src, const char *prefix, int index, const char *leaf)
{
    char p[SDC_UNET_PREFIX_MAX];
    sdc_unet_prefix(p, "%s.%d", prefix, index);
    return sdc_unet_tensor(src, p, leaf) != NULL;
}

int sdc_unet_block_present(const sdc_layer_source *src, const char *prefix)
{
    return has(src, prefix, 0, "in_layers.0.weight") || has(src, prefix, 0, "op.weight");
}

static sdc_status resample_load(sdc_layer *l, const sdc_layer_source *src, const char *prefix,
                                int index, const char *name, int c)
{
    char p[SDC_UNET_PREFIX_MAX];
    sdc_unet_prefix(p, "%s.%d", prefix, index);
    sdc_status s = sdc_layer_load(src, p, name, c, 3, 1, l);
    if (s == SDC_OK && l->w.rows != c)
        s = sdc_fail(SDC_ERR_UNSUPPORTED, "%s: unet resampler '%s.%s' changes channels %d -> %d",
                     sdc_checkpoint_path(src->ck), p, name, c, l->w.rows);
    return s;
}

/* resnet [+ transformer] [+ upsampler] */
static sdc_status resnet_block_load(sdc_unet_block *b, const sdc_layer_source *src,
                                    const char *prefix, int temb_dim, int *context_dim,
                                    const sdc_unet_heads *rule)
{
    char p[SDC_UNET_PREFIX_MAX];
    sdc_unet_prefix(p, "%s.0", prefix);
    sdc_status s = sdc_unet_resnet_load(&b->resnet, src, p, b->c_in, temb_dim);
    if (s != SDC_OK)
        return s;
    b->has_resnet = 1;
    b->c_out = b->resnet.c_out;
    int next = 1;
    sdc_unet_prefix(p, "%s.1", prefix);
    if (sdc_unet_transformer_present(src, p)) {
        s = sdc_unet_transformer_load(&b->attn, src, p, b->c_out, context_dim, rule);
        if (s != SDC_OK)
            return s;
        b->has_attn = 1;
        next = 2;
    }
    if (has(src, prefix, next, "conv.weight")) {
        s = resample_load(&b->up, src, prefix, next, "conv", b->c_out);
        b->has_up = s == SDC_OK;
        next++;
    }
    if (s == SDC_OK && (has(src, prefix, next, "in_layers.0.weight") ||
                        has(src, prefix, next, "proj_in.weight") ||
                        has(src, prefix, next, "conv.weight")))
        s = sdc_fail(SDC_ERR_UNSUPPORTED, "%s: unet block '%s' has an unexpected layer %d",
                     sdc_checkpoint_path(src->ck), prefix, next);
    return s;
}

sdc_status sdc_unet_block_load(sdc_unet_block *b, const sdc_layer_source *src, const char *prefix,
                               int c_in, int temb_dim, int *context_dim,
                               const sdc_unet_heads *rule)
{
    memset(b, 0, sizeof *b);
    b->c_in = b->c_out = c_in;
    sdc_status s;
    if (has(src, prefix, 0, "op.weight")) {
        s = resample_load(&b->down, src, prefix, 0, "op", c_in);
        b->has_down = s == SDC_OK;
    } else if (has(src, prefix, 0, "in_layers.0.weight")) {
        s = resnet_block_load(b, src, prefix, temb_dim, context_dim, rule);
    } else {
        s = sdc_fail(SDC_ERR_UNSUPPORTED, "%s: unet block '%s' is neither a resnet nor a "
                     "downsampler", sdc_checkpoint_path(src->ck), prefix);
    }
    if (s != SDC_OK)
        sdc_unet_block_free(b);
    return s;
}

void sdc_unet_block_free(sdc_unet_block *b)
{
    if (b->has_resnet)
        sdc_unet_resnet_free(&b->resnet);
    if (b->has_attn)
        sdc_unet_transformer_free(&b->attn);
    sdc_layer_free(&b->down);
    sdc_layer_free(&b->up);
    memset(b, 0, sizeof *b);
}

void sdc_unet_block_out_size(const sdc_unet_block *b, int H, int W, int up_h, int up_w,
                             int *Ho, int *Wo)
{
    *Ho = H;
    *Wo = W;
    if (b->has_down) {
        *Ho = sdc_conv_out_size(H, 3, 2, 1);
        *Wo = sdc_conv_out_size(W, 3, 2, 1);
    } else if (b->has_up) {
        *Ho = up_h;
        *Wo = up_w;
    }
}

/* y [B, C, Ho, Wo] = conv(nearest(x [B, C, H, W])) */
static sdc_status upsample(const sdc_unet_block *b, const sdc_unet_pass *p, float *y,
                           const float *x, int H, int W, int Ho, int Wo)
{
    size_t mark = sdc_arena_mark(p->arena);
    float *big = sdc_arena_floats(p->arena, (size_t)p->B * b->c_out * Ho * Wo);
    if (!big)
        return sdc_fail(SDC_ERR_NOMEM, "unet: out of memory for upsampling");
    sdc_upsample_nearest(big, x, p->B, b->c_out, H, W, Ho, Wo);
    int bad = sdc_layer_conv(&b->up, y, big, p->B, Ho, Wo, 1, 1, p->arena);
    sdc_arena_release(p->arena, mark);
    return bad ? sdc_fail(SDC_ERR_NOMEM, "unet: out of memory for upsampling") : SDC_OK;
}

sdc_status sdc_unet_block_forward(const sdc_unet_block *b, const sdc_unet_pass *p, float *y,
                                  const float *x, int H, int W, int up_h, int up_w)
{
    if (b->has_down) {
        if (sdc_layer_conv(&b->down, y, x, p->B, H, W, 2, 1, p->arena))
            return sdc_fail(SDC_ERR_NOMEM, "unet: out of memory for downsampling");
        return SDC_OK;
    }
    size_t mark = sdc_arena_mark(p->arena);
    float *h = y;
    if (b->has_up && !(h = sdc_arena_floats(p->arena, (size_t)p->B * b->c_out * H * W)))
        return sdc_fail(SDC_ERR_NOMEM, "unet: out of memory for block activations");
    sdc_status s = sdc_unet_resnet_forward(&b->resnet, p, h, x, H, W); // [B, c_out, H, W]
    if (s == SDC_OK && b->has_attn)
        s = sdc_unet_transformer_forward(&b->attn, p, h, H, W);
    if (s == SDC_OK && b->has_up)
        s = upsample(b, p, y, h, H, W, up_h, up_w); // [B, c_out, up_h, up_w]
    sdc_arena_release(p->arena, mark);
    return s;
}
