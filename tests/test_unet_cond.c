/* The UNet's conditioning seam (sdc_unet_cond) against golden UNet calls that use more than a
 * context: ControlNet residuals (controlnet/cases/controlnet_unet.*), SDXL's label vector
 * (pooled text + size embedding, unet/tiny-sdxl) and extra input channels (the depth model's
 * depth channel, unet/tiny-sd2-depth). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/golden.h"
#include "unet/timestep.h"
#include "unet/unet.h"

typedef struct loaded {
    sdc_checkpoint *ck;
    sdc_unet *unet;
} loaded;

static loaded load_model(const char *rel)
{
    loaded m = {0};
    cr_assert_eq(sdc_checkpoint_open(golden_path(rel), &m.ck), SDC_OK, "open %s: %s", rel,
                 sdc_last_error());
    cr_assert_eq(sdc_unet_load(m.ck, &m.unet), SDC_OK, "unet load %s: %s", rel,
                 sdc_last_error());
    return m;
}

static void unload(loaded *m)
{
    sdc_unet_free(m->unet);
    sdc_checkpoint_close(m->ck);
}

static size_t numel(const sdc_st_entry *e) { return (size_t)sdc_tensor_numel(&e->tensor); }

static int dim(const sdc_st_entry *e, int i) { return (int)e->tensor.shape[i]; }

/* Runs one forward of x [B, C, h, w] and compares with `want` within tol. */
static void expect_forward(sdc_unet *u, const sdc_st_entry *x_entry, const float *x, int B,
                           float t, const sdc_unet_cond *c, const sdc_st_entry *want,
                           double tol)
{
    int h = dim(x_entry, 2), w = dim(x_entry, 3);
    float *out = malloc(numel(want) * sizeof *out);
    cr_assert(out);
    cr_assert_eq(sdc_unet_forward(u, x, B, h, w, t, c, out), SDC_OK, "%s: %s", want->name,
                 sdc_last_error());
    double d = expect_close(out, want, tol, want->name);
    cr_log_info("%s: max |diff| %.3g (tolerance %.3g)", want->name, d, tol);
    free(out);
}

/* ---- ControlNet residuals ------------------------------------------------------------- */

Test(unet_cond, controlnet_residuals_join_the_skips_and_the_middle)
{
    const char *id = "controlnet_unet.control_tiny_edges";
    sdc_safetensors *st = golden_open("controlnet/cases/controlnet_unet.control_tiny_edges."
                                      "safetensors");
    loaded m = load_model("models/tiny-sd1/model.safetensors");
    int n_skip = sdc_unet_skip_count(m.unet);
    const sdc_st_entry *x = golden_get(st, "x"), *ctx = golden_get(st, "context");
    float *xf = golden_f32(x), *cf = golden_f32(ctx);
    float t = golden_f32(golden_get(st, "t"))[0];
    float **res = calloc((size_t)n_skip + 1, sizeof *res);
    cr_assert(res);
    for (int i = 0; i <= n_skip; i++) {
        char name[16];
        snprintf(name, sizeof name, i < n_skip ? "down%d" : "mid", i);
        const sdc_st_entry *e = golden_get(st, name);
        if (i < n_skip) { /* the seam says where each residual goes and how big it is */
            int c, sh, sw;
            sdc_unet_skip_shape(m.unet, i, dim(x, 2), dim(x, 3), &c, &sh, &sw);
            cr_expect(dim(e, 1) == c && dim(e, 2) == sh && dim(e, 3) == sw, "%s shape", name);
        }
        res[i] = golden_f32(e);
    }
    sdc_unet_cond c = {.context = cf, .tokens = dim(ctx, 1)};
    expect_forward(m.unet, x, xf, 1, t, &c, golden_get(st, "out_base"),
                   golden_set_tol("controlnet", id, "out_base"));
    c.residuals = (const float *const *)res;
    expect_forward(m.unet, x, xf, 1, t, &c, golden_get(st, "out"),
                   golden_set_tol("controlnet", id, "out"));
    /* entries may be NULL: all-NULL residuals give the plain output again */
    float **none = calloc((size_t)n_skip + 1, sizeof *none);
    c.residuals = (const float *const *)none;
    expect_forward(m.unet, x, xf, 1, t, &c, golden_get(st, "out_base"),
                   golden_set_tol("controlnet", id, "out_base"));
    for (int i = 0; i <= n_skip; i++)
        free(res[i]);
    free(res);
    free(none);
    free(xf);
    free(cf);
    unload(&m);
    sdc_safetensors_close(st);
}

/* ---- SDXL: label vector = cat[pooled text, size embedding] ----------------------------- */

typedef struct sdxl_case {
    sdc_safetensors *st;
    loaded m;
    int pooled, D; /* pooled width, addition_time_embed_dim */
} sdxl_case;

static const char *const SDXL_ID = "unet_sdxl.tiny-sdxl";

/* label [pooled + 6 * D] = cat[text_embeds (row `row` of `pooled_name`), time-id embedding] */
static void sdxl_label(const sdxl_case *c, const char *pooled_name, const char *ids_name,
                       float *label)
{
    float *text = golden_f32(golden_get(c->st, pooled_name));
    float *ids = golden_f32(golden_get(c->st, ids_name));
    memcpy(label, text, (size_t)c->pooled * sizeof *label);
    sdc_unet_time_ids_embed(label + c->pooled, ids, 6, c->D);
    free(text);
    free(ids);
}

static sdxl_case open_sdxl_from(const char *rel)
{
    sdxl_case c = {.st = golden_open("unet/tiny-sdxl.safetensors")};
    c.m = load_model(rel);
    c.pooled = dim(golden_get(c.st, "text_embeds_cond"), 1);
    c.D = dim(golden_get(c.st, "time_proj"), 1) / 6;
    cr_assert_eq(sdc_unet_label_dim(c.m.unet), c.pooled + 6 * c.D);
    return c;
}

static sdxl_case open_sdxl(void) { return open_sdxl_from("models/tiny-sdxl/model.safetensors"); }

Test(unet_cond, sdxl_size_embedding_matches_time_proj)
{
    sdxl_case c = open_sdxl();
    float *label = malloc((size_t)(c.pooled + 6 * c.D) * sizeof *label);
    cr_assert(label);
    sdxl_label(&c, "text_embeds_cond", "time_ids", label);
    const sdc_st_entry *want = golden_get(c.st, "time_proj");
    expect_close(label + c.pooled, want, golden_tol(SDXL_ID, "time_proj"), "time_proj");
    free(label);
    unload(&c.m);
    sdc_safetensors_close(c.st);
}

static void sdxl_single(sdxl_case *c, const char *x_name, const char *ids_name, float t,
                        const char *out_name)
{
    const sdc_st_entry *x = golden_get(c->st, x_name), *ctx = golden_get(c->st, "context_cond");
    float *xf = golden_f32(x), *cf = golden_f32(ctx);
    float *label = malloc((size_t)(c->pooled + 6 * c->D) * sizeof *label);
    cr_assert(label);
    sdxl_label(c, "text_embeds_cond", ids_name, label);
    sdc_unet_cond cond = {.context = cf, .tokens = dim(ctx, 1), .label = label};
    expect_forward(c->m.unet, x, xf, 1, t, &cond, golden_get(c->st, out_name),
                   golden_tol(SDXL_ID, out_name));
    free(label);
    free(xf);
    free(cf);
}

Test(unet_cond, sdxl_label_conditioning)
{
    sdxl_case c = open_sdxl();
    static const char *const names[] = {"1", "250", "999", "499p5"};
    static const float ts[] = {1.0f, 250.0f, 999.0f, 499.5f};
    for (int i = 0; i < 4; i++) {
        char out[32];
        snprintf(out, sizeof out, "out_b1.t%s", names[i]);
        sdxl_single(&c, "x", "time_ids", ts[i], out);
    }
    sdxl_single(&c, "x", "time_ids_alt", 250.0f, "out_time_alt.t250");
    sdxl_single(&c, "x_odd", "time_ids_odd", 250.0f, "out_odd.t250");
    unload(&c.m);
    sdc_safetensors_close(c.st);
}

Test(unet_cond, sdxl_label_conditioning_diffusers_folder)
{
    sdxl_case c = open_sdxl_from("models/tiny-sdxl/diffusers");
    sdxl_single(&c, "x", "time_ids", 250.0f, "out_b1.t250");
    sdxl_single(&c, "x_odd", "time_ids_odd", 250.0f, "out_odd.t250");
    unload(&c.m);
    sdc_safetensors_close(c.st);
}

/* The CFG batch: one label row per batch row (the time embedding is then per row too). */
static void sdxl_batch(sdxl_case *c, int zero_uncond, const char *out_name)
{
    const sdc_st_entry *x = golden_get(c->st, "x"), *cond = golden_get(c->st, "context_cond");
    size_t nx = numel(x), nc = numel(cond), L = (size_t)c->pooled + 6 * c->D;
    float *x2 = malloc(2 * nx * sizeof *x2), *ctx2 = calloc(2 * nc, sizeof *ctx2);
    float *label = malloc(2 * L * sizeof *label);
    cr_assert(x2 && ctx2 && label);
    float *xf = golden_f32(x), *cf = golden_f32(cond);
    memcpy(x2, xf, nx * sizeof *xf);
    memcpy(x2 + nx, xf, nx * sizeof *xf);
    if (!zero_uncond) {
        float *uf = golden_f32(golden_get(c->st, "context_uncond"));
        memcpy(ctx2, uf, nc * sizeof *uf);
        free(uf);
    }
    memcpy(ctx2 + nc, cf, nc * sizeof *cf);
    sdxl_label(c, "text_embeds_uncond", "time_ids", label);
    if (zero_uncond)
        memset(label, 0, (size_t)c->pooled * sizeof *label);
    sdxl_label(c, "text_embeds_cond", "time_ids", label + L);
    sdc_unet_cond cc = {.context = ctx2, .tokens = dim(cond, 1), .label = label};
    expect_forward(c->m.unet, x, x2, 2, 250.0f, &cc, golden_get(c->st, out_name),
                   golden_tol(SDXL_ID, out_name));
    free(x2);
    free(ctx2);
    free(label);
    free(xf);
    free(cf);
}

Test(unet_cond, sdxl_guidance_batch_has_a_label_per_row)
{
    sdxl_case c = open_sdxl();
    sdxl_batch(&c, 0, "out_b2.t250");
    sdxl_batch(&c, 1, "out_zero_uncond.t250");
    unload(&c.m);
    sdc_safetensors_close(c.st);
}

Test(unet_cond, a_label_is_required_exactly_where_label_emb_exists)
{
    sdxl_case c = open_sdxl();
    float x[4 * 8 * 8] = {0}, out[4 * 8 * 8], ctx[77 * 192] = {0};
    sdc_unet_cond cond = {.context = ctx, .tokens = 77};
    cr_expect_eq(sdc_unet_forward(c.m.unet, x, 1, 8, 8, 1.0f, &cond, out), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "label"), "%s", sdc_last_error());
    unload(&c.m);
    sdc_safetensors_close(c.st);
    loaded sd1 = load_model("models/tiny-sd1/model.safetensors");
    float label[1] = {0};
    sdc_unet_cond with = {.context = ctx, .tokens = 77, .label = label};
    cr_expect_eq(sdc_unet_label_dim(sd1.unet), 0);
    cr_expect_eq(sdc_unet_forward(sd1.unet, x, 1, 8, 8, 1.0f, &with, out), SDC_ERR_ARG);
    unload(&sd1);
}

/* ---- extra input channels: the depth model's depth map ---------------------------------- */

Test(unet_cond, extra_channels_follow_the_latent)
{
    const char *id = "unet_depth.tiny-sd2-depth";
    sdc_safetensors *st = golden_open("unet/tiny-sd2-depth.safetensors");
    loaded m = load_model("models/tiny-sd2-depth/model.safetensors");
    const sdc_st_entry *x = golden_get(st, "x"), *ctx = golden_get(st, "context_cond");
    int C = dim(x, 1), hw = dim(x, 2) * dim(x, 3);
    cr_assert_eq(C, 5);
    float *xf = golden_f32(x), *cf = golden_f32(ctx);
    /* x's last channel is the depth map: handed over as an extra channel */
    sdc_unet_cond c = {.context = cf, .tokens = dim(ctx, 1), .extra = xf + 4 * hw,
                       .extra_channels = 1};
    expect_forward(m.unet, x, xf, 1, 250.0f, &c, golden_get(st, "out_b1.t250"),
                   golden_tol(id, "out_b1.t250"));
    c.extra_channels = 5; /* no latent channel left */
    float out[1];
    cr_expect_eq(sdc_unet_forward(m.unet, xf, 1, dim(x, 2), dim(x, 3), 250.0f, &c, out),
                 SDC_ERR_ARG);
    free(xf);
    free(cf);
    unload(&m);
    sdc_safetensors_close(st);
}

/* ---- a class label: the x4 upscaler's noise level -------------------------------------- */

static void upscale_call(sdc_unet *u, sdc_safetensors *st, const char *x_name, int B, float t,
                         int level, const char *out_name)
{
    const char *id = "unet_upscale.tiny-x4-upscaler";
    const sdc_st_entry *x = golden_get(st, x_name), *cond = golden_get(st, "context_cond");
    size_t nx = numel(x), nc = numel(cond);
    float *xf = golden_f32(x), *cf = golden_f32(cond);
    float *xs = malloc((size_t)B * nx * sizeof *xs), *ctx = malloc((size_t)B * nc * sizeof *ctx);
    float labels[2] = {(float)level, (float)level};
    cr_assert(xs && ctx);
    for (int b = 0; b < B; b++)
        memcpy(xs + b * nx, xf, nx * sizeof *xf);
    if (B == 2) { /* the guidance batch: [uncond, cond] */
        float *uf = golden_f32(golden_get(st, "context_uncond"));
        memcpy(ctx, uf, nc * sizeof *uf);
        memcpy(ctx + nc, cf, nc * sizeof *cf);
        free(uf);
    } else {
        memcpy(ctx, cf, nc * sizeof *cf);
    }
    /* the low-res picture's 3 channels ride in x itself (7 input channels) */
    sdc_unet_cond c = {.context = ctx, .tokens = dim(cond, 1), .label = labels};
    expect_forward(u, x, xs, B, t, &c, golden_get(st, out_name), golden_tol(id, out_name));
    free(xs);
    free(ctx);
    free(xf);
    free(cf);
}

Test(unet_cond, x4_upscaler_noise_level_is_a_class_label)
{
    sdc_safetensors *st = golden_open("unet/tiny-x4-upscaler.safetensors");
    for (int folder = 0; folder < 2; folder++) {
        loaded m = load_model(folder ? "models/tiny-x4-upscaler/diffusers"
                                     : "models/tiny-x4-upscaler/model.safetensors");
        cr_expect_eq(sdc_unet_label_dim(m.unet), 1, "a class table");
        upscale_call(m.unet, st, "x", 1, 1.0f, 20, "out_b1.t1.nl20");
        upscale_call(m.unet, st, "x", 1, 250.0f, 20, "out_b1.t250.nl20");
        upscale_call(m.unet, st, "x", 1, 999.0f, 20, "out_b1.t999.nl20");
        upscale_call(m.unet, st, "x", 1, 499.5f, 20, "out_b1.t499p5.nl20");
        upscale_call(m.unet, st, "x", 1, 250.0f, 0, "out_b1.t250.nl0");
        upscale_call(m.unet, st, "x", 1, 250.0f, 350, "out_b1.t250.nl350");
        upscale_call(m.unet, st, "x", 2, 250.0f, 20, "out_b2.t250.nl20");
        upscale_call(m.unet, st, "x_odd", 1, 250.0f, 20, "out_odd.t250.nl20");
        /* a label outside the table is refused */
        const sdc_st_entry *x = golden_get(st, "x");
        float *xf = golden_f32(x), *cf = golden_f32(golden_get(st, "context_cond"));
        float bad = 1000.0f, *out = malloc(numel(x) * sizeof *out);
        sdc_unet_cond c = {.context = cf, .tokens = 77, .label = &bad};
        cr_expect_eq(sdc_unet_forward(m.unet, xf, 1, dim(x, 2), dim(x, 3), 1.0f, &c, out),
                     SDC_ERR_ARG);
        free(xf);
        free(cf);
        free(out);
        unload(&m);
    }
    sdc_safetensors_close(st);
}
