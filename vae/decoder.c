#include "vae/decoder.h"

#include <string.h>

#include "ops/error.h"
#include "ops/nn.h"

static sdc_status load_levels(sdc_vae_decoder *d, const sdc_layer_source *src, int c)
{
    char name[SDC_VAE_NAME_MAX];
    while (d->n_levels <= SDC_VAE_MAX_LEVELS) {
        sdc_vae_name(name, "decoder.up.%d.block.0", d->n_levels);
        if (!sdc_vae_has(src, name, "conv1"))
            break;
        d->n_levels++;
    }
    if (d->n_levels == 0 || d->n_levels > SDC_VAE_MAX_LEVELS)
        return sdc_fail(SDC_ERR_FORMAT, "%s: vae decoder has %s up levels (decoder.up.N)",
                        sdc_checkpoint_path(src->ck), d->n_levels ? "too many" : "no");
    for (int i = d->n_levels - 1; i >= 0; i--) {
        sdc_vae_name(name, "decoder.up.%d", i);
        sdc_status s = sdc_vae_level_load(&d->up[i], src, name, c, SDC_VAE_RESAMPLE_UP);
        if (s != SDC_OK) {
            for (int j = d->n_levels - 1; j > i; j--)
                sdc_vae_level_free(&d->up[j]);
            d->n_levels = 0;
            return s;
        }
        c = d->up[i].c_out;
    }
    return SDC_OK;
}

sdc_status sdc_vae_decoder_load(sdc_vae_decoder *d, const sdc_layer_source *src)
{
    memset(d, 0, sizeof *d);
    sdc_status s = sdc_layer_load(src, "decoder", "conv_in", -1, 3, 1, &d->conv_in);
    if (s != SDC_OK)
        return s;
    d->z_channels = d->conv_in.in;
    int c_top = d->conv_in.w.rows;
    s = sdc_vae_mid_load(&d->mid, src, "decoder.mid", c_top);
    if (s == SDC_OK)
        s = load_levels(d, src, c_top);
    int c_last = d->n_levels ? d->up[0].c_out : 0;
    if (s == SDC_OK)
        s = sdc_vae_norm_load(src, "decoder", "norm_out", c_last, &d->norm_out);
    if (s == SDC_OK)
        s = sdc_layer_load(src, "decoder", "conv_out", c_last, 3, 1, &d->conv_out);
    d->out_channels = d->conv_out.w.rows;
    if (s != SDC_OK)
        sdc_vae_decoder_free(d);
    return s;
}

void sdc_vae_decoder_free(sdc_vae_decoder *d)
{
    sdc_layer_free(&d->conv_in);
    sdc_vae_mid_free(&d->mid);
    for (int i = 0; i < d->n_levels; i++)
        sdc_vae_level_free(&d->up[i]);
    d->n_levels = 0;
    sdc_norm_free(&d->norm_out);
    sdc_layer_free(&d->conv_out);
}

void sdc_vae_decoder_out_size(const sdc_vae_decoder *d, int h, int w, int *H, int *W)
{
    for (int i = d->n_levels - 1; i >= 0; i--)
        sdc_vae_level_out_size(&d->up[i], &h, &w);
    *H = h;
    *W = w;
}

/* Floats the pass's one activation buffer needs: its largest activation. */
static size_t buffer_floats(const sdc_vae_decoder *d, int B, int h, int w)
{
    size_t most = (size_t)B * d->conv_in.w.rows * h * w;
    for (int i = d->n_levels - 1; i >= 0; i--) {
        size_t n = sdc_vae_level_max_floats(&d->up[i], B, h, w);
        most = n > most ? n : most;
        sdc_vae_level_out_size(&d->up[i], &h, &w);
    }
    return most;
}

sdc_status sdc_vae_decoder_forward(const sdc_vae_decoder *d, const sdc_vae_pass *p,
                                   const float *z, int h, int w, float *image)
{
    int B = p->B;
    size_t mark = sdc_arena_mark(p->arena), cap = buffer_floats(d, B, h, w);
    float *x = sdc_arena_floats(p->arena, cap);
    if (!x)
        return sdc_vae_nomem(p, mark, "decoder");
    sdc_status s = sdc_vae_conv(&d->conv_in, p, x, z, h, w, 1, 1); // [B, c_top, h, w]
    if (s == SDC_OK)
        s = sdc_vae_mid_forward(&d->mid, p, x, h, w);
    int H = h, W = w;
    for (int i = d->n_levels - 1; i >= 0 && s == SDC_OK; i--)
        s = sdc_vae_level_forward(&d->up[i], p, x, &H, &W); // [B, c_i, H, W]
    if (s == SDC_OK) {
        int c = d->up[0].c_out;
        sdc_vae_group_norm(p, x, x, c, H * W, &d->norm_out, 1);
        s = sdc_vae_conv(&d->conv_out, p, image, x, H, W, 1, 1); // [B, out, H, W]
    }
    sdc_arena_release(p->arena, mark);
    return s;
}
