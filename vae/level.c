#include "vae/level.h"

#include <string.h>

#include "ops/error.h"
#include "ops/nn.h"
#include "vae/band.h"

static sdc_status load_resnets(sdc_vae_level *l, const sdc_layer_source *src, const char *prefix)
{
    char name[SDC_VAE_NAME_MAX];
    int c = l->c_in;
    for (int m = 0;; m++) {
        sdc_vae_name(name, "%s.block.%d", prefix, m);
        if (!sdc_vae_has(src, name, "conv1"))
            break;
        if (m == SDC_VAE_MAX_RESNETS)
            return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: vae level '%s' has more than %d resnets",
                            sdc_checkpoint_path(src->ck), prefix, SDC_VAE_MAX_RESNETS);
        sdc_status s = sdc_vae_resnet_load(&l->resnets[m], src, name, c);
        if (s != SDC_OK)
            return s;
        l->n_resnets = m + 1;
        c = l->resnets[m].c_out;
    }
    if (l->n_resnets == 0)
        return sdc_fail(SDC_ERR_FORMAT, "%s: vae level '%s' has no resnets ('%s.block.0.conv1."
                        "weight' missing)", sdc_checkpoint_path(src->ck), prefix, prefix);
    l->c_out = c;
    return SDC_OK;
}

sdc_status sdc_vae_level_load(sdc_vae_level *l, const sdc_layer_source *src, const char *prefix,
                              int c_in, sdc_vae_resample kind)
{
    char name[SDC_VAE_NAME_MAX];
    memset(l, 0, sizeof *l);
    l->c_in = c_in;
    sdc_status s = load_resnets(l, src, prefix);
    sdc_vae_name(name, "%s.%s", prefix, kind == SDC_VAE_RESAMPLE_DOWN ? "downsample" : "upsample");
    if (s == SDC_OK && kind != SDC_VAE_RESAMPLE_NONE && sdc_vae_has(src, name, "conv")) {
        l->resample = kind;
        s = sdc_layer_load(src, name, "conv", l->c_out, 3, 1, &l->conv);
        if (s == SDC_OK)
            s = sdc_layer_check_out(src, name, "conv", &l->conv, l->c_out);
    }
    if (s != SDC_OK)
        sdc_vae_level_free(l);
    return s;
}

void sdc_vae_level_free(sdc_vae_level *l)
{
    for (int m = 0; m < l->n_resnets; m++)
        sdc_vae_resnet_free(&l->resnets[m]);
    sdc_layer_free(&l->conv);
    l->n_resnets = 0;
}

int sdc_vae_level_out_size(const sdc_vae_level *l, int *H, int *W)
{
    if (l->resample == SDC_VAE_RESAMPLE_UP) {
        *H *= 2;
        *W *= 2;
    } else if (l->resample == SDC_VAE_RESAMPLE_DOWN) {
        if (*H < 2 || *W < 2)
            return 0;
        *H = sdc_conv_out_size(*H + 1, 3, 2, 0);
        *W = sdc_conv_out_size(*W + 1, 3, 2, 0);
    }
    return 1;
}

size_t sdc_vae_level_max_floats(const sdc_vae_level *l, int B, int H, int W)
{
    size_t c = (size_t)(l->c_in > l->c_out ? l->c_in : l->c_out);
    size_t most = (size_t)B * c * H * W;
    if (sdc_vae_level_out_size(l, &H, &W)) {
        size_t out = (size_t)B * l->c_out * H * W;
        most = out > most ? out : most;
    }
    return most;
}

/* y [B, C, H + 1, W + 1] = x [B, C, H, W] with a zero row at the bottom and column at the
 * right. */
static void pad_right_bottom(float *y, const float *x, int BC, int H, int W)
{
#pragma omp parallel for schedule(static)
    for (int c = 0; c < BC; c++) {
        float *yc = y + (size_t)c * (H + 1) * (W + 1);
        const float *xc = x + (size_t)c * H * W;
        for (int i = 0; i < H; i++) {
            memcpy(yc + (size_t)i * (W + 1), xc + (size_t)i * W, (size_t)W * sizeof *yc);
            yc[(size_t)i * (W + 1) + W] = 0.0f;
        }
        memset(yc + (size_t)H * (W + 1), 0, (size_t)(W + 1) * sizeof *yc);
    }
}

/* The level's input moves to t, from which the sampler writes x: up, a band at a time so
 * that the upsampled copy never exists whole; down, through the padded copy. */
static sdc_status resample(const sdc_vae_level *l, const sdc_vae_pass *p, float *x, int *H,
                           int *W)
{
    int h = *H, w = *W;
    if (!sdc_vae_level_out_size(l, H, W))
        return sdc_fail(SDC_ERR_ARG, "vae: a %dx%d feature map is too small to down-sample", h, w);
    size_t mark = sdc_arena_mark(p->arena), n = (size_t)p->B * l->c_out * h * w;
    int up = l->resample == SDC_VAE_RESAMPLE_UP;
    float *t = sdc_arena_floats(p->arena, up ? n : (size_t)p->B * l->c_out * (h + 1) * (w + 1));
    if (!t)
        return sdc_vae_nomem(p, mark, "resample");
    sdc_status s;
    if (up) {
        memcpy(t, x, n * sizeof *t);
        s = sdc_vae_conv_upsampled(&l->conv, p, x, t, h, w); // [B, c, 2h, 2w]
    } else {
        pad_right_bottom(t, x, p->B * l->c_out, h, w);        // [B, c, h + 1, w + 1]
        s = sdc_vae_conv(&l->conv, p, x, t, h + 1, w + 1, 2, 0); // [B, c, H, W]
    }
    sdc_arena_release(p->arena, mark);
    return s;
}

sdc_status sdc_vae_level_forward(const sdc_vae_level *l, const sdc_vae_pass *p, float *x, int *H,
                                 int *W)
{
    for (int m = 0; m < l->n_resnets; m++) {
        sdc_status s = sdc_vae_resnet_forward(&l->resnets[m], p, x, *H, *W); // [B, c_out, H, W]
        if (s != SDC_OK)
            return s;
    }
    if (l->resample == SDC_VAE_RESAMPLE_NONE)
        return SDC_OK;
    return resample(l, p, x, H, W);
}
