/* ControlNet files: the layouts of weights/layout_controlnet.c (original names with or
 * without control_model., diffusers names) on top of the safetensors / PyTorch readers,
 * then the net's shape checks; a net that loads runs its hint encoder and one forward on
 * the smallest latent (buffers sized from the encoder it reports), so a shape the checks let
 * through cannot read or write past a tensor. */
#include <stdlib.h>

#include "control/controlnet.h"
#include "tests/fuzz/fuzz.h"

static void run(sdc_controlnet *cn)
{
    const sdc_unet *e = sdc_controlnet_encoder(cn);
    int n = sdc_unet_skip_count(e), c0, c, sh, sw;
    sdc_unet_skip_shape(e, 0, 1, 1, &c0, &sh, &sw);
    size_t ctx = (size_t)(sdc_unet_context_dim(e) > 0 ? sdc_unet_context_dim(e) : 1);
    size_t label = (size_t)sdc_unet_label_dim(e);
    float *picture = calloc((size_t)sdc_controlnet_hint_channels(cn) * 64, sizeof(float));
    float *x = calloc((size_t)sdc_unet_in_channels(e), sizeof(float));
    float *context = calloc(ctx, sizeof(float)), *lab = label ? calloc(label, sizeof(float)) : NULL;
    float *hint = calloc((size_t)c0, sizeof(float));
    float *res[SDC_UNET_MAX_RESIDUALS] = {0}, scale[SDC_UNET_MAX_RESIDUALS];
    for (int i = 0; i <= n; i++) {
        if (i < n)
            sdc_unet_skip_shape(e, i, 1, 1, &c, &sh, &sw);
        else
            c = sdc_unet_mid_channels(e);
        res[i] = calloc((size_t)c, sizeof(float));
        scale[i] = 1.0f;
    }
    if (picture && x && context && hint && sdc_controlnet_hint(cn, picture, 1, 1, hint) == SDC_OK) {
        sdc_unet_cond cond = {.context = context, .tokens = 1, .label = lab};
        (void)sdc_controlnet_forward(cn, x, 1, 1, 1, 1.0f, &cond, hint, scale, res);
    }
    for (int i = 0; i <= n; i++)
        free(res[i]);
    free(picture);
    free(x);
    free(context);
    free(lab);
    free(hint);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdc_controlnet *cn;
    if (sdc_controlnet_load(fuzz_file(data, size), &cn) != SDC_OK)
        return 0;
    run(cn);
    sdc_controlnet_free(cn);
    return 0;
}
