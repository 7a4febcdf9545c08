#include "control/controlnet.h"

#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "ops/nn.h"
#include "unet/load.h"
#include "weights/packed_weights.h"

/* input_hint_block: convolutions at Sequential indexes 0, 2, ..., 14, a SiLU after each but
 * the last; the diffusers blocks between conv_in and conv_out alternate stride 1 and 2. */
#define HINT_CONVS 8

struct sdc_controlnet {
    sdc_checkpoint *ck;
    sdc_unet *encoder;
    sdc_layer hint[HINT_CONVS];
    int n_res;          /* skip tensors + 1 */
    sdc_layer *zero;    /* [n_res]: zero_convs.0 .. n_res - 2, then middle_block_out.0 */
    sdc_layer_table layers;
    sdc_arena arena;    /* the 1x1 convolutions' outputs and scratch */
};

static int hint_stride(int i) { return i >= 2 && i <= 6 && i % 2 == 0 ? 2 : 1; }

static sdc_status hint_load(sdc_controlnet *cn, const sdc_layer_source *src)
{
    int in = -1;
    for (int i = 0; i < HINT_CONVS; i++) {
        char suffix[8];
        snprintf(suffix, sizeof suffix, "%d", 2 * i);
        sdc_status s = sdc_layer_load(src, "input_hint_block", suffix, in, 3, 1, &cn->hint[i]);
        if (s != SDC_OK)
            return s;
        in = sdc_layer_out(&cn->hint[i]);
    }
    int c0, sh, sw;
    sdc_unet_skip_shape(cn->encoder, 0, 1, 1, &c0, &sh, &sw);
    return sdc_layer_check_out(src, "input_hint_block", "14", &cn->hint[HINT_CONVS - 1], c0);
}

/* zero_convs.i.0: 1x1, C_i -> C_i; middle_block_out.0: 1x1 on the middle block's width. */
static sdc_status zero_load(sdc_controlnet *cn, const sdc_layer_source *src)
{
    cn->n_res = sdc_unet_skip_count(cn->encoder) + 1;
    cn->zero = calloc((size_t)cn->n_res, sizeof *cn->zero);
    if (!cn->zero)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", sdc_checkpoint_path(cn->ck));
    for (int i = 0; i < cn->n_res; i++) {
        char prefix[SDC_UNET_PREFIX_MAX];
        int c, sh, sw, last = i == cn->n_res - 1;
        if (last)
            c = sdc_unet_mid_channels(cn->encoder);
        else
            sdc_unet_skip_shape(cn->encoder, i, 1, 1, &c, &sh, &sw);
        if (last)
            sdc_unet_prefix(prefix, "middle_block_out");
        else
            sdc_unet_prefix(prefix, "zero_convs.%d", i);
        sdc_status s = sdc_layer_load(src, prefix, "0", c, 1, 1, &cn->zero[i]);
        if (s == SDC_OK)
            s = sdc_layer_check_out(src, prefix, "0", &cn->zero[i], c);
        if (s != SDC_OK)
            return s;
    }
    char extra[SDC_UNET_PREFIX_MAX];
    sdc_unet_prefix(extra, "zero_convs.%d", cn->n_res - 1);
    if (sdc_layer_find(src, extra, "0", "weight"))
        return sdc_fail(SDC_ERR_FORMAT, "%s: ControlNet has more zero_convs than its encoder has "
                        "skip tensors (%d)", sdc_checkpoint_path(cn->ck), cn->n_res - 1);
    return SDC_OK;
}

sdc_status sdc_controlnet_load(const char *path, sdc_controlnet **out)
{
    *out = NULL;
    sdc_controlnet *cn = calloc(1, sizeof *cn);
    if (!cn)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    sdc_arena_init(&cn->arena);
    sdc_status s = sdc_checkpoint_open_controlnet(path, &cn->ck);
    if (s == SDC_OK)
        s = sdc_unet_load_encoder(cn->ck, &cn->encoder);
    sdc_layer_source src = {cn->ck, SDC_COMPONENT_UNET, "controlnet", SDC_UNET_MAX_DIM,
                            &cn->layers};
    if (s == SDC_OK)
        s = hint_load(cn, &src);
    if (s == SDC_OK)
        s = zero_load(cn, &src);
    if (s != SDC_OK) {
        sdc_controlnet_free(cn);
        return s;
    }
    *out = cn;
    return SDC_OK;
}

sdc_status sdc_controlnet_pack_weights(sdc_controlnet *cn, int on)
{
    sdc_status s = sdc_packed_weights_set(sdc_unet_layers(cn->encoder), cn->ck, on);
    return s == SDC_OK ? sdc_packed_weights_set(&cn->layers, cn->ck, on) : s;
}

void sdc_controlnet_free(sdc_controlnet *cn)
{
    if (!cn)
        return;
    for (int i = 0; i < HINT_CONVS; i++)
        sdc_layer_free(&cn->hint[i]);
    for (int i = 0; cn->zero && i < cn->n_res; i++)
        sdc_layer_free(&cn->zero[i]);
    free(cn->zero);
    sdc_layer_table_free(&cn->layers);
    sdc_arena_free(&cn->arena);
    sdc_unet_free(cn->encoder);
    sdc_checkpoint_close(cn->ck);
    free(cn);
}

const char *sdc_controlnet_path(const sdc_controlnet *cn) { return sdc_checkpoint_path(cn->ck); }
const sdc_unet *sdc_controlnet_encoder(const sdc_controlnet *cn) { return cn->encoder; }
int sdc_controlnet_hint_channels(const sdc_controlnet *cn) { return cn->hint[0].in; }

sdc_status sdc_controlnet_check(const sdc_controlnet *cn, const sdc_unet *unet, int h, int w)
{
    const char *path = sdc_controlnet_path(cn);
    /* SDXL's UNets are the ones whose label is a vector (pooled text + size / crop ids) */
    int net_xl = sdc_unet_label_dim(cn->encoder) > 1, model_xl = sdc_unet_label_dim(unet) > 1;
    if (net_xl && !model_xl)
        return sdc_fail(SDC_ERR_ARG, "%s: an SDXL ControlNet, and the model is not SDXL", path);
    if (!net_xl && model_xl)
        return sdc_fail(SDC_ERR_ARG, "%s: not an SDXL ControlNet (SD 1.x / 2.x?), and the "
                        "model is SDXL", path);
    if (sdc_unet_skip_count(unet) != cn->n_res - 1)
        return sdc_fail(SDC_ERR_ARG, "%s: the ControlNet has %d residuals, the model's UNet %d "
                        "skip tensors (a ControlNet for another model family?)", path,
                        cn->n_res - 1, sdc_unet_skip_count(unet));
    if (sdc_unet_context_dim(unet) != sdc_unet_context_dim(cn->encoder) ||
        sdc_unet_mid_channels(unet) != sdc_unet_mid_channels(cn->encoder))
        return sdc_fail(SDC_ERR_ARG, "%s: the ControlNet's context / middle width (%d / %d) is "
                        "not the model's (%d / %d)", path, sdc_unet_context_dim(cn->encoder),
                        sdc_unet_mid_channels(cn->encoder), sdc_unet_context_dim(unet),
                        sdc_unet_mid_channels(unet));
    if (sdc_unet_in_channels(cn->encoder) != 4 ||
        sdc_unet_label_dim(cn->encoder) != sdc_unet_label_dim(unet))
        return sdc_fail(SDC_ERR_ARG, "%s: the ControlNet reads %d latent channels and a label of "
                        "%d, not 4 and the model's %d", path, sdc_unet_in_channels(cn->encoder),
                        sdc_unet_label_dim(cn->encoder), sdc_unet_label_dim(unet));
    for (int i = 0; i < cn->n_res - 1; i++) {
        int c, sh, sw, uc, uh, uw;
        sdc_unet_skip_shape(cn->encoder, i, h, w, &c, &sh, &sw);
        sdc_unet_skip_shape(unet, i, h, w, &uc, &uh, &uw);
        if (c != uc || sh != uh || sw != uw)
            return sdc_fail(SDC_ERR_ARG, "%s: ControlNet residual %d is [%d, %d, %d], the "
                            "model's skip tensor [%d, %d, %d]", path, i, c, sh, sw, uc, uh, uw);
    }
    return SDC_OK;
}

static sdc_status nomem(const sdc_controlnet *cn)
{
    return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory for ControlNet activations",
                    sdc_controlnet_path(cn));
}

sdc_status sdc_controlnet_hint(sdc_controlnet *cn, const float *picture, int h, int w,
                               float *hint)
{
    sdc_arena_reset(&cn->arena);
    int H = 8 * h, W = 8 * w;
    const float *x = picture;
    for (int i = 0; i < HINT_CONVS; i++) {
        int stride = hint_stride(i), Ho = (H - 1) / stride + 1, Wo = (W - 1) / stride + 1;
        size_t n = (size_t)sdc_layer_out(&cn->hint[i]) * Ho * Wo;
        float *y = i == HINT_CONVS - 1 ? hint : sdc_arena_floats(&cn->arena, n);
        if (!y || sdc_layer_conv(&cn->hint[i], y, x, 1, H, W, stride, 1, &cn->arena))
            return nomem(cn);
        if (i < HINT_CONVS - 1)
            sdc_silu(y, n);
        x = y, H = Ho, W = Wo;
    }
    if (H != h || W != w)
        return sdc_fail(SDC_ERR_FORMAT, "%s: the hint encoder makes %dx%d from %dx%d pixels, "
                        "not the %dx%d latent", sdc_controlnet_path(cn), W, H, 8 * w, 8 * h, w,
                        h);
    return SDC_OK;
}

/* res += scale * zero(skip [B, C, H, W]) */
static sdc_status zero_conv(sdc_controlnet *cn, const sdc_layer *zero, const float *skip, int B,
                            int H, int W, float scale, float *res)
{
    size_t n = (size_t)B * sdc_layer_out(zero) * H * W, mark = sdc_arena_mark(&cn->arena);
    float *y = sdc_arena_floats(&cn->arena, n);
    if (!y || sdc_layer_conv(zero, y, skip, B, H, W, 1, 0, &cn->arena))
        return nomem(cn);
    for (size_t i = 0; i < n; i++)
        res[i] += scale * y[i];
    sdc_arena_release(&cn->arena, mark);
    return SDC_OK;
}

sdc_status sdc_controlnet_forward(sdc_controlnet *cn, const float *x, int B, int h, int w,
                                  float t, const sdc_unet_cond *cond, const float *hint,
                                  const float *scale, float *const *res)
{
    int c0, sh, sw;
    sdc_unet_skip_shape(cn->encoder, 0, h, w, &c0, &sh, &sw);
    size_t per_row = (size_t)c0 * h * w;
    sdc_arena_reset(&cn->arena);
    float *h0_add = sdc_arena_floats(&cn->arena, (size_t)B * per_row);
    if (!h0_add)
        return nomem(cn);
    for (int b = 0; b < B; b++)
        memcpy(h0_add + b * per_row, hint, per_row * sizeof(float));
    const float **skips = calloc((size_t)cn->n_res, sizeof *skips), *mid = NULL;
    if (!skips)
        return nomem(cn);
    sdc_status s = sdc_unet_encode(cn->encoder, x, B, h, w, t, cond, h0_add, skips, &mid);
    for (int i = 0; s == SDC_OK && i < cn->n_res; i++) {
        int last = i == cn->n_res - 1, k = last ? cn->n_res - 2 : i, c;
        sdc_unet_skip_shape(cn->encoder, k, h, w, &c, &sh, &sw);
        s = zero_conv(cn, &cn->zero[i], last ? mid : skips[i], B, sh, sw, scale[i], res[i]);
    }
    free(skips);
    return s;
}
