/* ControlNet files and forward against golden/controlnet: one ControlNet call (hint and the
 * 12 + 1 residuals, cases/controlnet.*) through every layout the loader accepts. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/controlnet.h"
#include "tests/golden.h"
#include "weights/checkpoint.h"

static const char *const CASE = "controlnet.control_tiny_edges";

static int dim(const sdc_st_entry *e, int i) { return (int)e->tensor.shape[i]; }

static double tol(const char *name) { return golden_set_tol("controlnet", CASE, name); }

/* The golden call through the ControlNet at `rel` (under golden/controlnet/models). */
static void expect_call(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "controlnet/models/%s", rel);
    sdc_controlnet *cn;
    cr_assert_eq(sdc_controlnet_load(golden_path(path), &cn), SDC_OK, "%s: %s", rel,
                 sdc_last_error());
    sdc_safetensors *st = golden_open("controlnet/cases/controlnet.control_tiny_edges."
                                      "safetensors");
    const sdc_st_entry *x = golden_get(st, "x"), *ctx = golden_get(st, "context");
    const sdc_st_entry *pic = golden_get(st, "control_image"), *hint_e = golden_get(st, "hint");
    int h = dim(x, 2), w = dim(x, 3);
    cr_assert_eq(sdc_controlnet_hint_channels(cn), dim(pic, 1));
    float *xf = golden_f32(x), *cf = golden_f32(ctx), *pf = golden_f32(pic);
    float t = golden_f32(golden_get(st, "t"))[0];
    float *hint = malloc(sdc_tensor_numel(&hint_e->tensor) * sizeof *hint);
    cr_assert_eq(sdc_controlnet_hint(cn, pf, h, w, hint), SDC_OK, "%s", sdc_last_error());
    expect_close(hint, hint_e, tol("hint"), rel);
    float *res[13], scale[13];
    for (int i = 0; i < 13; i++) {
        char name[16];
        snprintf(name, sizeof name, i < 12 ? "down%d" : "mid", i);
        res[i] = calloc(sdc_tensor_numel(&golden_get(st, name)->tensor), sizeof(float));
        scale[i] = 1.0f;
    }
    sdc_unet_cond c = {.context = cf, .tokens = dim(ctx, 1)};
    cr_assert_eq(sdc_controlnet_forward(cn, xf, 1, h, w, t, &c, hint, scale, res), SDC_OK, "%s",
                 sdc_last_error());
    for (int i = 0; i < 13; i++) {
        char name[16];
        snprintf(name, sizeof name, i < 12 ? "down%d" : "mid", i);
        expect_close(res[i], golden_get(st, name), tol(name), rel);
        free(res[i]);
    }
    free(hint);
    free(xf);
    free(cf);
    free(pf);
    sdc_safetensors_close(st);
    sdc_controlnet_free(cn);
}

Test(controlnet, original_layout_without_prefix) { expect_call("control_tiny_edges.safetensors"); }

Test(controlnet, original_layout_with_control_model_prefix)
{
    expect_call("control_tiny_edges.control_model.safetensors");
}

Test(controlnet, diffusers_folder) { expect_call("control_tiny_edges"); }

Test(controlnet, diffusers_weights_file)
{
    expect_call("control_tiny_edges/diffusion_pytorch_model.safetensors");
}

Test(controlnet, fits_the_base_unet_and_names_a_misfit)
{
    sdc_controlnet *cn;
    sdc_checkpoint *ck;
    sdc_unet *u;
    cr_assert_eq(sdc_controlnet_load(golden_path("controlnet/models/control_tiny_edges."
                                                 "safetensors"), &cn), SDC_OK);
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sd1/model.safetensors"), &ck),
                 SDC_OK);
    cr_assert_eq(sdc_unet_load(ck, &u), SDC_OK);
    cr_expect_eq(sdc_controlnet_check(cn, u, 16, 16), SDC_OK, "%s", sdc_last_error());
    sdc_unet_free(u);
    sdc_checkpoint_close(ck);
    /* the SDXL UNet has fewer skip tensors and other widths */
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sdxl/model.safetensors"), &ck),
                 SDC_OK);
    cr_assert_eq(sdc_unet_load(ck, &u), SDC_OK);
    cr_expect_neq(sdc_controlnet_check(cn, u, 16, 16), SDC_OK);
    cr_expect(strstr(sdc_last_error(), "control_tiny_edges"), "%s", sdc_last_error());
    sdc_unet_free(u);
    sdc_checkpoint_close(ck);
    sdc_controlnet_free(cn);
}

Test(controlnet, a_model_that_is_no_controlnet_is_refused)
{
    sdc_controlnet *cn = NULL;
    cr_expect_eq(sdc_controlnet_load(golden_path("models/tiny-sd1/model.safetensors"), &cn),
                 SDC_ERR_FORMAT);
    cr_expect_null(cn);
    cr_expect(strstr(sdc_last_error(), "not a ControlNet"), "%s", sdc_last_error());
    cr_expect_eq(sdc_controlnet_load("/nonexistent/net.safetensors", &cn), SDC_ERR_IO);
}
