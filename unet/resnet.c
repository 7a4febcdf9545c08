#include "unet/resnet.h"

#include <string.h>

#include "ops/error.h"
#include "ops/nn.h"

#define RESNET_EPS 1e-5f

sdc_status sdc_unet_resnet_load(sdc_unet_resnet *r, const sdc_layer_source *src, const char *prefix,
                                int c_in, int temb_dim)
{
    memset(r, 0, sizeof *r);
    r->c_in = c_in;
    sdc_status s = sdc_unet_check_groups(src, prefix, c_in);
    if (s == SDC_OK)
        s = sdc_norm_load(src, prefix, "in_layers.0", c_in, &r->norm1);
    if (s == SDC_OK)
        s = sdc_layer_load(src, prefix, "in_layers.2", c_in, 3, 1, &r->conv1);
    if (s != SDC_OK) {
        sdc_unet_resnet_free(r);
        return s;
    }
    r->c_out = r->conv1.w.rows;
    s = sdc_unet_check_groups(src, prefix, r->c_out);
    if (s == SDC_OK)
        s = sdc_layer_load(src, prefix, "emb_layers.1", temb_dim, 1, 1, &r->emb);
    if (s == SDC_OK)
        s = sdc_layer_check_out(src, prefix, "emb_layers.1", &r->emb, r->c_out);
    if (s == SDC_OK)
        s = sdc_norm_load(src, prefix, "out_layers.0", r->c_out, &r->norm2);
    if (s == SDC_OK)
        s = sdc_layer_load(src, prefix, "out_layers.3", r->c_out, 3, 1, &r->conv2);
    if (s == SDC_OK)
        s = sdc_layer_check_out(src, prefix, "out_layers.3", &r->conv2, r->c_out);
    r->has_skip = c_in != r->c_out;
    if (s == SDC_OK && r->has_skip)
        s = sdc_layer_load(src, prefix, "skip_connection", c_in, 1, 1, &r->skip);
    if (s == SDC_OK && r->has_skip)
        s = sdc_layer_check_out(src, prefix, "skip_connection", &r->skip, r->c_out);
    if (s != SDC_OK)
        sdc_unet_resnet_free(r);
    return s;
}

void sdc_unet_resnet_free(sdc_unet_resnet *r)
{
    sdc_norm_free(&r->norm1);
    sdc_layer_free(&r->conv1);
    sdc_layer_free(&r->emb);
    sdc_norm_free(&r->norm2);
    sdc_layer_free(&r->conv2);
    sdc_layer_free(&r->skip);
}

static sdc_status nomem(sdc_arena *arena, size_t mark)
{
    sdc_arena_release(arena, mark);
    return sdc_fail(SDC_ERR_NOMEM, "unet: out of memory for resnet activations");
}

sdc_status sdc_unet_resnet_forward(const sdc_unet_resnet *r, const sdc_unet_pass *p, float *y,
                                   const float *x, int H, int W)
{
    int B = p->B, HW = H * W;
    size_t mark = sdc_arena_mark(p->arena);
    size_t n_in = (size_t)B * r->c_in * HW, n_out = (size_t)B * r->c_out * HW;
    float *a = sdc_arena_floats(p->arena, n_in);
    float *h = sdc_arena_floats(p->arena, n_out);
    float *e = sdc_arena_floats(p->arena, (size_t)p->temb_rows * r->c_out);
    if (!a || !h || !e)
        return nomem(p->arena, mark);
    /* h [B, c_out, H, W] = conv1(SiLU(GN(x))) + proj(temb) */
    sdc_group_norm(a, x, B, r->c_in, HW, SDC_UNET_GROUPS, r->norm1.gamma, r->norm1.beta,
                   RESNET_EPS, 1);
    if (sdc_layer_conv(&r->conv1, h, a, B, H, W, 1, 1, p->arena) ||
        sdc_layer_linear(&r->emb, e, p->temb, p->temb_rows, p->arena)) // [temb_rows, c_out]
        return nomem(p->arena, mark);
    if (p->temb_rows == 1)
        sdc_add_channel_bias(h, e, B, r->c_out, HW);
    else
        for (int b = 0; b < B; b++)
            sdc_add_channel_bias(h + (size_t)b * r->c_out * HW, e + (size_t)b * r->c_out, 1,
                                 r->c_out, HW);
    /* y [B, c_out, H, W] = conv2(SiLU(GN(h))) + skip(x) */
    sdc_group_norm(h, h, B, r->c_out, HW, SDC_UNET_GROUPS, r->norm2.gamma, r->norm2.beta,
                   RESNET_EPS, 1);
    if (sdc_layer_conv(&r->conv2, y, h, B, H, W, 1, 1, p->arena))
        return nomem(p->arena, mark);
    const float *skip = x;
    if (r->has_skip) {
        if (sdc_layer_conv(&r->skip, h, x, B, H, W, 1, 0, p->arena))
            return nomem(p->arena, mark);
        skip = h;
    }
    sdc_add(y, y, skip, n_out);
    sdc_arena_release(p->arena, mark);
    return SDC_OK;
}
