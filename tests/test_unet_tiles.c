/* The UNet over overlapping windows (pipeline/unet_tiles.h) on the golden tiny x4 upscaler:
 * a tiled prediction is exactly the blend of plain passes over the plan's windows (inputs,
 * the extra low-res channels included, cut from the right places; outputs added at the right
 * places with the plan's weights), and one window covering everything is the plain pass. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/unet_tiles.h"
#include "tests/golden.h"
#include "vae/tile_plan.h"

enum { B = 2, H = 20, W = 12, TILE = 8, OVERLAP = 2, CX = 4, CE = 3 };

typedef struct fixture {
    sdc_checkpoint *ck;
    sdc_unet *u;
    float *x, *extra, *context;
    float labels[B];
    int tokens;
} fixture;

/* Smooth inputs (a picture-like latent, a low-res picture) and the golden context. */
static fixture setup(void)
{
    fixture f = {0};
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-x4-upscaler/model.safetensors"),
                                     &f.ck), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_unet_load(f.ck, &f.u), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_unet_in_channels(f.u), CX + CE);
    f.x = malloc((size_t)B * CX * H * W * sizeof *f.x);
    f.extra = malloc((size_t)B * CE * H * W * sizeof *f.extra);
    cr_assert(f.x && f.extra);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < CX + CE; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    float v = sinf(0.3f * i + 0.7f * c + b) * cosf(0.45f * j - 0.2f * c);
                    if (c < CX)
                        f.x[(((size_t)b * CX + c) * H + i) * W + j] = v;
                    else
                        f.extra[(((size_t)b * CE + c - CX) * H + i) * W + j] = 0.5f * v;
                }
    sdc_safetensors *st = golden_open("unet/tiny-x4-upscaler.safetensors");
    const sdc_st_entry *cond = golden_get(st, "context_cond");
    size_t nc = (size_t)sdc_tensor_numel(&cond->tensor);
    float *cf = golden_f32(cond);
    f.context = malloc(B * nc * sizeof *f.context);
    cr_assert_not_null(f.context);
    for (int b = 0; b < B; b++)
        memcpy(f.context + b * nc, cf, nc * sizeof *cf);
    f.tokens = (int)cond->tensor.shape[1];
    free(cf);
    sdc_safetensors_close(st);
    f.labels[0] = f.labels[1] = 20.0f;
    return f;
}

static void teardown(fixture *f)
{
    free(f->x);
    free(f->extra);
    free(f->context);
    sdc_unet_free(f->u);
    sdc_checkpoint_close(f->ck);
}

/* dst [B, C, th, tw] = window (y0, x0) of src [B, C, H, W] */
static void crop(float *dst, const float *src, int C, int y0, int x0, int th, int tw)
{
    for (int bc = 0; bc < B * C; bc++)
        for (int i = 0; i < th; i++)
            memcpy(dst + ((size_t)bc * th + i) * tw, src + ((size_t)bc * H + y0 + i) * W + x0,
                   (size_t)tw * sizeof *dst);
}

Test(unet_tiles, a_tiled_pass_blends_window_passes)
{
    fixture f = setup();
    sdc_unet_cond c = {.context = f.context, .tokens = f.tokens, .label = f.labels,
                       .extra = f.extra, .extra_channels = CE};
    size_t n = (size_t)B * CX * H * W;
    float *tiled = malloc(n * sizeof *tiled), *want = calloc(n, sizeof *want);
    cr_assert(tiled && want);
    cr_assert_eq(sdc_pipeline_unet_tiled(f.u, f.x, B, H, W, 250.0f, &c, TILE, OVERLAP, tiled),
                 SDC_OK, "%s", sdc_last_error());
    sdc_vae_tile_axis ay = sdc_vae_tile_plan(H, TILE, OVERLAP);
    sdc_vae_tile_axis ax = sdc_vae_tile_plan(W, TILE, OVERLAP);
    cr_assert(ay.count == 3 && ax.count == 2, "the plan has seams in both directions");
    int th = ay.size, tw = ax.size;
    float *xw = malloc((size_t)B * CX * th * tw * sizeof *xw);
    float *ew = malloc((size_t)B * CE * th * tw * sizeof *ew);
    float *ow = malloc((size_t)B * CX * th * tw * sizeof *ow), wy[TILE], wx[TILE];
    cr_assert(xw && ew && ow);
    for (int ty = 0; ty < ay.count; ty++)
        for (int tx = 0; tx < ax.count; tx++) {
            int y0 = sdc_vae_tile_start(&ay, ty), x0 = sdc_vae_tile_start(&ax, tx);
            crop(xw, f.x, CX, y0, x0, th, tw);
            crop(ew, f.extra, CE, y0, x0, th, tw);
            sdc_unet_cond cw = c;
            cw.extra = ew;
            cr_assert_eq(sdc_unet_forward(f.u, xw, B, th, tw, 250.0f, &cw, ow), SDC_OK);
            sdc_vae_tile_weights(&ay, ty, 1, wy);
            sdc_vae_tile_weights(&ax, tx, 1, wx);
            for (int bc = 0; bc < B * CX; bc++)
                for (int i = 0; i < th; i++)
                    for (int j = 0; j < tw; j++)
                        want[((size_t)bc * H + y0 + i) * W + x0 + j] +=
                            ow[((size_t)bc * th + i) * tw + j] * wy[i] * wx[j];
        }
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)tiled[i] - want[i]));
    cr_expect_lt(worst, 1e-6, "tiled differs from the blend of its windows by %g", worst);
    free(xw), free(ew), free(ow), free(tiled), free(want);
    teardown(&f);
}

Test(unet_tiles, one_window_is_the_plain_pass)
{
    fixture f = setup();
    sdc_unet_cond c = {.context = f.context, .tokens = f.tokens, .label = f.labels,
                       .extra = f.extra, .extra_channels = CE};
    size_t n = (size_t)B * CX * H * W;
    float *plain = malloc(n * sizeof *plain), *tiled = malloc(n * sizeof *tiled);
    cr_assert(plain && tiled);
    cr_assert_eq(sdc_unet_forward(f.u, f.x, B, H, W, 250.0f, &c, plain), SDC_OK);
    cr_assert_eq(sdc_pipeline_unet_tiled(f.u, f.x, B, H, W, 250.0f, &c, 24, 6, tiled), SDC_OK);
    cr_expect_eq(memcmp(plain, tiled, n * sizeof *plain), 0, "one window changed the pass");
    /* bad plans and ControlNet residuals are refused */
    cr_expect_eq(sdc_pipeline_unet_tiled(f.u, f.x, B, H, W, 250.0f, &c, 12, 2, tiled),
                 SDC_ERR_ARG);
    const float *res[1] = {NULL};
    c.residuals = res;
    cr_expect_eq(sdc_pipeline_unet_tiled(f.u, f.x, B, H, W, 250.0f, &c, 8, 2, tiled),
                 SDC_ERR_UNSUPPORTED);
    free(plain), free(tiled);
    teardown(&f);
}
