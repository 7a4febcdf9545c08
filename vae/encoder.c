#include "vae/encoder.h"

#include <string.h>

#include "ops/error.h"
#include "ops/nn.h"

static sdc_status load_levels(sdc_vae_encoder *e, const sdc_layer_source *src, int c)
{
    char name[SDC_VAE_NAME_MAX];
    for (;; e->n_levels++) {
        sdc_vae_name(name, "encoder.down.%d.block.0", e->n_levels);
        if (!sdc_vae_has(src, name, "conv1"))
            break;
        if (e->n_levels == SDC_VAE_MAX_LEVELS)
            return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: vae encoder has more than %d levels",
                            sdc_checkpoint_path(src->ck), SDC_VAE_MAX_LEVELS);
        sdc_vae_name(name, "encoder.down.%d", e->n_levels);
        sdc_status s = sdc_vae_level_load(&e->down[e->n_levels], src, name, c,
                                          SDC_VAE_RESAMPLE_DOWN);
        if (s != SDC_OK)
            return s;
        c = e->down[e->n_levels].c_out;
    }
    if (e->n_levels == 0)
        return sdc_fail(SDC_ERR_FORMAT, "%s: vae encoder has no down levels (encoder.down.N)",
                        sdc_checkpoint_path(src->ck));
    return SDC_OK;
}

sdc_status sdc_vae_encoder_load(sdc_vae_encoder *e, const sdc_layer_source *src)
{
    memset(e, 0, sizeof *e);
    sdc_status s = sdc_layer_load(src, "encoder", "conv_in", -1, 3, 1, &e->conv_in);
    if (s != SDC_OK)
        return s;
    e->in_channels = e->conv_in.in;
    s = load_levels(e, src, e->conv_in.w.rows);
    int c_top = e->n_levels ? e->down[e->n_levels - 1].c_out : 0;
    if (s == SDC_OK)
        s = sdc_vae_mid_load(&e->mid, src, "encoder.mid", c_top);
    if (s == SDC_OK)
        s = sdc_vae_norm_load(src, "encoder", "norm_out", c_top, &e->norm_out);
    if (s == SDC_OK)
        s = sdc_layer_load(src, "encoder", "conv_out", c_top, 3, 1, &e->conv_out);
    e->out_channels = e->conv_out.w.rows;
    if (s != SDC_OK)
        sdc_vae_encoder_free(e);
    return s;
}

void sdc_vae_encoder_free(sdc_vae_encoder *e)
{
    sdc_layer_free(&e->conv_in);
    for (int i = 0; i < e->n_levels; i++)
        sdc_vae_level_free(&e->down[i]);
    e->n_levels = 0;
    sdc_vae_mid_free(&e->mid);
    sdc_norm_free(&e->norm_out);
    sdc_layer_free(&e->conv_out);
}

int sdc_vae_encoder_out_size(const sdc_vae_encoder *e, int H, int W, int *h, int *w)
{
    for (int i = 0; i < e->n_levels; i++)
        if (!sdc_vae_level_out_size(&e->down[i], &H, &W))
            return 0;
    *h = H;
    *w = W;
    return 1;
}

/* Floats the pass's one activation buffer needs: its largest activation. */
static size_t buffer_floats(const sdc_vae_encoder *e, int B, int H, int W)
{
    size_t most = (size_t)B * e->conv_in.w.rows * H * W;
    for (int i = 0; i < e->n_levels; i++) {
        size_t n = sdc_vae_level_max_floats(&e->down[i], B, H, W);
        most = n > most ? n : most;
        sdc_vae_level_out_size(&e->down[i], &H, &W);
    }
    return most;
}

sdc_status sdc_vae_encoder_forward(const sdc_vae_encoder *e, const sdc_vae_pass *p,
                                   const float *image, int H, int W, float *moments)
{
    int B = p->B, h, w;
    if (!sdc_vae_encoder_out_size(e, H, W, &h, &w))
        return sdc_fail(SDC_ERR_ARG, "vae: a %dx%d image is too small to encode", W, H);
    size_t mark = sdc_arena_mark(p->arena), cap = buffer_floats(e, B, H, W);
    float *x = sdc_arena_floats(p->arena, cap);
    if (!x)
        return sdc_vae_nomem(p, mark, "encoder");
    sdc_status s = sdc_vae_conv(&e->conv_in, p, x, image, H, W, 1, 1); // [B, c_0, H, W]
    for (int i = 0; i < e->n_levels && s == SDC_OK; i++)
        s = sdc_vae_level_forward(&e->down[i], p, x, &H, &W); // [B, c_i, H', W']
    if (s == SDC_OK)
        s = sdc_vae_mid_forward(&e->mid, p, x, h, w);
    if (s == SDC_OK) {
        int c = e->down[e->n_levels - 1].c_out;
        sdc_vae_group_norm(p, x, x, c, h * w, &e->norm_out, 1);
        s = sdc_vae_conv(&e->conv_out, p, moments, x, h, w, 1, 1); // [B, 2 zc, h, w]
    }
    sdc_arena_release(p->arena, mark);
    return s;
}
