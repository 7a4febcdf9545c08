#include "vae/resnet.h"

#include <string.h>

#include "ops/nn.h"
#include "vae/band.h"

sdc_status sdc_vae_resnet_load(sdc_vae_resnet *r, const sdc_layer_source *src, const char *prefix,
                               int c_in)
{
    memset(r, 0, sizeof *r);
    r->c_in = c_in;
    sdc_status s = sdc_vae_norm_load(src, prefix, "norm1", c_in, &r->norm1);
    if (s == SDC_OK)
        s = sdc_layer_load(src, prefix, "conv1", c_in, 3, 1, &r->conv1);
    if (s != SDC_OK) {
        sdc_vae_resnet_free(r);
        return s;
    }
    r->c_out = r->conv1.w.rows;
    s = sdc_vae_norm_load(src, prefix, "norm2", r->c_out, &r->norm2);
    if (s == SDC_OK)
        s = sdc_layer_load(src, prefix, "conv2", r->c_out, 3, 1, &r->conv2);
    if (s == SDC_OK)
        s = sdc_layer_check_out(src, prefix, "conv2", &r->conv2, r->c_out);
    r->has_skip = c_in != r->c_out;
    if (s == SDC_OK && r->has_skip)
        s = sdc_layer_load(src, prefix, "nin_shortcut", c_in, 1, 1, &r->skip);
    if (s == SDC_OK && r->has_skip)
        s = sdc_layer_check_out(src, prefix, "nin_shortcut", &r->skip, r->c_out);
    if (s != SDC_OK)
        sdc_vae_resnet_free(r);
    return s;
}

void sdc_vae_resnet_free(sdc_vae_resnet *r)
{
    sdc_norm_free(&r->norm1);
    sdc_layer_free(&r->conv1);
    sdc_norm_free(&r->norm2);
    sdc_layer_free(&r->conv2);
    sdc_layer_free(&r->skip);
}

sdc_status sdc_vae_resnet_forward(const sdc_vae_resnet *r, const sdc_vae_pass *p, float *x,
                                  int H, int W)
{
    int B = p->B, HW = H * W;
    size_t mark = sdc_arena_mark(p->arena), n_out = (size_t)B * r->c_out * HW;
    /* t: skip(x) with a skip (x is then free to be normalised in place), else SiLU(GN(x))
     * (x stays for the sum). h, in x's buffer or in t, is conv1's then conv2's output. */
    float *t = sdc_arena_floats(p->arena, n_out);
    if (!t)
        return sdc_vae_nomem(p, mark, "resnet");
    sdc_status s = SDC_OK;
    float *h = r->has_skip ? x : t;
    if (r->has_skip) {
        s = sdc_vae_conv(&r->skip, p, t, x, H, W, 1, 0); // [B, c_out, H, W]
        sdc_vae_group_norm(p, x, x, r->c_in, HW, &r->norm1, 1);
    } else {
        sdc_vae_group_norm(p, t, x, r->c_in, HW, &r->norm1, 1);
    }
    /* h [B, c_out, H, W] = conv1(SiLU(GN(x))) */
    if (s == SDC_OK)
        s = sdc_vae_conv_in_place(&r->conv1, p, h, H, W);
    /* x [B, c_out, H, W] = conv2(SiLU(GN(h))) + skip(x) */
    if (s == SDC_OK) {
        sdc_vae_group_norm(p, h, h, r->c_out, HW, &r->norm2, 1);
        s = sdc_vae_conv_in_place(&r->conv2, p, h, H, W);
    }
    if (s == SDC_OK)
        sdc_add(x, h, r->has_skip ? t : x, n_out);
    sdc_arena_release(p->arena, mark);
    return s;
}
