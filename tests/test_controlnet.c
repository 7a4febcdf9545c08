/* ControlNet files and forward against golden/controlnet: one ControlNet call (hint and the
 * 12 + 1 residuals, cases/controlnet.*) through every layout the loader accepts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/controlnet.h"
#include "ops/cpu.h"
#include "ops/pack_cache.h"
#include "image/canny.h"
#include "image/image.h"
#include "image/resize_lanczos.h"
#include "pipeline/control.h"
#include "tests/fuzz/ckpt_build.h"
#include "tests/golden.h"
#include "weights/checkpoint.h"
#include "weights/safetensors.h"

static const char *const CASE = "controlnet.control_tiny_edges";

static int dim(const sdc_st_entry *e, int i) { return (int)e->tensor.shape[i]; }

/* A golden scalar (the timestep). */
static float scalar(const sdc_safetensors *st, const char *name)
{
    float *v = golden_f32(golden_get(st, name)), r = v[0];
    free(v);
    return r;
}

static double tol(const char *name) { return golden_set_tol("controlnet", CASE, name); }

/* The golden call through the ControlNet at `path`. */
static void expect_call_at(const char *path, const char *rel)
{
    sdc_controlnet *cn;
    cr_assert_eq(sdc_controlnet_load(path, &cn), SDC_OK, "%s: %s", rel, sdc_last_error());
    sdc_safetensors *st = golden_open("controlnet/cases/controlnet.control_tiny_edges."
                                      "safetensors");
    const sdc_st_entry *x = golden_get(st, "x"), *ctx = golden_get(st, "context");
    const sdc_st_entry *pic = golden_get(st, "control_image"), *hint_e = golden_get(st, "hint");
    int h = dim(x, 2), w = dim(x, 3);
    cr_assert_eq(sdc_controlnet_hint_channels(cn), dim(pic, 1));
    float *xf = golden_f32(x), *cf = golden_f32(ctx), *pf = golden_f32(pic);
    float t = scalar(st, "t");
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

/* ... at `rel` under golden/controlnet/models. */
static void expect_call(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "controlnet/models/%s", rel);
    expect_call_at(golden_path(path), rel);
}

/* The golden case's 13 residuals through cn (at the current precision), into res[i]
 * (allocated here, one flat block per call: res[0] owns it). */
static size_t residuals_of(sdc_controlnet *cn, const sdc_safetensors *st, float *res[13])
{
    const sdc_st_entry *x = golden_get(st, "x"), *ctx = golden_get(st, "context");
    const sdc_st_entry *pic = golden_get(st, "control_image"), *hint_e = golden_get(st, "hint");
    int h = dim(x, 2), w = dim(x, 3);
    float *xf = golden_f32(x), *cf = golden_f32(ctx), *pf = golden_f32(pic), scale[13];
    float *hint = malloc(sdc_tensor_numel(&hint_e->tensor) * sizeof *hint);
    size_t total = 0, at[13];
    for (int i = 0; i < 13; i++) {
        char name[16];
        snprintf(name, sizeof name, i < 12 ? "down%d" : "mid", i);
        at[i] = total;
        total += (size_t)sdc_tensor_numel(&golden_get(st, name)->tensor);
        scale[i] = 1.0f;
    }
    float *block = calloc(total, sizeof(float));
    cr_assert(hint && block);
    for (int i = 0; i < 13; i++)
        res[i] = block + at[i];
    cr_assert_eq(sdc_controlnet_hint(cn, pf, h, w, hint), SDC_OK, "%s", sdc_last_error());
    sdc_unet_cond c = {.context = cf, .tokens = dim(ctx, 1)};
    cr_assert_eq(sdc_controlnet_forward(cn, xf, 1, h, w, scalar(st, "t"), &c, hint, scale, res),
                 SDC_OK, "%s", sdc_last_error());
    free(hint), free(xf), free(cf), free(pf);
    return total;
}

/* bf16 with packed weights (a sampling loop's, pipeline/unet_pack.h): the call that packs
 * and the one that reads the copies give the residuals of packing per call, bit for bit. */
Test(controlnet, packed_bf16_weights_change_nothing)
{
    if (!sdc_cpu_has_bf16())
        cr_skip_test("this CPU has no AVX512_BF16");
    sdc_controlnet *cn;
    cr_assert_eq(sdc_controlnet_load(golden_path("controlnet/models/control_tiny_edges."
                                                 "safetensors"), &cn),
                 SDC_OK, "%s", sdc_last_error());
    sdc_safetensors *st = golden_open("controlnet/cases/controlnet.control_tiny_edges."
                                      "safetensors");
    sdc_precision_set(SDC_PRECISION_BF16);
    float *want[13], *got[13];
    size_t n = residuals_of(cn, st, want);
    cr_assert_eq(sdc_controlnet_pack_weights(cn, 1), SDC_OK);
    for (int call = 0; call < 2; call++) {
        residuals_of(cn, st, got);
        cr_expect_eq(memcmp(got[0], want[0], n * sizeof(float)), 0,
                     "call %d: packed weights changed the residuals", call);
        cr_expect_gt(sdc_pack_cache_bytes(), 0, "nothing was packed");
        free(got[0]);
    }
    cr_assert_eq(sdc_controlnet_pack_weights(cn, 0), SDC_OK);
    cr_expect_eq(sdc_pack_cache_bytes(), 0, "packed copies outlived the switch");
    sdc_precision_set(SDC_PRECISION_FP32);
    free(want[0]);
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

/* lllyasviel's .pth releases: torch.save of a plain dict, every key with control_model.;
 * made here from the prefixed safetensors file, through the restricted unpickler. */
Test(controlnet, pth_through_the_restricted_unpickler)
{
    sdc_safetensors *st = golden_open("controlnet/models/control_tiny_edges.control_model."
                                      "safetensors");
    size_t n = sdc_safetensors_count(st);
    ckb_pickle p = {0};
    ckb_member *members = calloc(n, sizeof *members);
    char (*keys)[32] = calloc(n, sizeof *keys);
    ckb_op(&p, 0x80), ckb_op(&p, 2), ckb_op(&p, '}'), ckb_op(&p, '(');
    for (size_t i = 0; i < n; i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(st, i);
        snprintf(keys[i], sizeof keys[i], "data/%zu", i);
        ckb_str(&p, e->name);
        ckb_tensor(&p, ckb_storage_class(e->tensor.dtype), keys[i] + 5,
                   sdc_tensor_numel(&e->tensor), 0, e->tensor.ndim, e->tensor.shape, NULL);
        members[i] = (ckb_member){keys[i], e->tensor.data, e->nbytes, (int)(i % 2)};
    }
    ckb_op(&p, 'u'), ckb_op(&p, '.');
    char path[64];
    snprintf(path, sizeof path, "/tmp/sdc-controlnet-%d.pth", (int)getpid());
    cr_assert_eq(ckb_write_zip(path, "archive", &p, members, n), 0);
    expect_call_at(path, "control_tiny_edges.pth");
    remove(path);
    ckb_free(&p);
    free(members);
    free(keys);
    sdc_safetensors_close(st);
}

/* ---- the control picture ---------------------------------------------------------------- */

/* shapes_small.png (96x80) stretched to 128x128 as Pillow's LANCZOS does: the golden
 * trajectory stores the prepared picture. */
Test(controlnet, picture_stretched_as_pillow_lanczos)
{
    const char *id = "controlnet_txt2img.tiny-sd1.ddim_multi";
    sdc_safetensors *st = golden_open("controlnet/trajectories/controlnet_txt2img.tiny-sd1."
                                      "ddim_multi.safetensors");
    const sdc_st_entry *want = golden_get(st, "control_image.control_tiny_shapes");
    sdc_image pic;
    cr_assert_eq(sdc_image_load(golden_path("controlnet/control/shapes_small.png"), &pic, NULL),
                 SDC_OK);
    cr_assert(pic.width == 96 && pic.height == 80);
    sdc_control c = sdc_control_default_params();
    c.path = "net", c.rgb = pic.pixels, c.width = pic.width, c.height = pic.height;
    float *got;
    cr_assert_eq(sdc_pipeline_control_picture(&c, dim(want, 3), dim(want, 2), &got), SDC_OK);
    expect_close(got, want, golden_set_tol("controlnet", id, "control_image.control_tiny_shapes"),
                 "lanczos");
    free(got);
    sdc_image_free(&pic);
    sdc_safetensors_close(st);
}

Test(controlnet, invert_preprocessor)
{
    uint8_t rgb[2 * 3] = {0, 10, 255, 200, 1, 2};
    sdc_control c = sdc_control_default_params();
    c.path = "net", c.rgb = rgb, c.width = 2, c.height = 1;
    c.preprocess = SDC_CONTROL_PREPROCESS_INVERT;
    float *got;
    cr_assert_eq(sdc_pipeline_control_picture(&c, 2, 1, &got), SDC_OK);
    /* planar [3, 1, 2] */
    const float want[6] = {255 / 255.0f, 55 / 255.0f, 245 / 255.0f, 254 / 255.0f, 0, 253 / 255.0f};
    for (int i = 0; i < 6; i++)
        cr_expect_eq(got[i], want[i], "value %d: %g", i, got[i]);
    free(got);
}

/* ---- Canny: decisions that can be checked by hand ---------------------------------------- *
 * No OpenCV on the machines that wrote these tests, so no reference edges of its own: each
 * picture is small enough to derive its Sobel magnitudes by hand (stated in the comments),
 * and the tests pin the decisions of the thresholds, the thinning and the hysteresis. */

#define S 8

/* Left half 0, right half v, from column `at` (a vertical step). */
static void step(uint8_t *img, int at, int v)
{
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            img[y * S + x] = (uint8_t)(x >= at ? v : 0);
}

/* Edge pixels as a string of rows, '#' = edge. */
static void edges_of(const uint8_t *img, int ch, int lo, int hi, char *out)
{
    uint8_t e[S * S];
    cr_assert_eq(sdc_canny(img, S, S, ch, lo, hi, e), SDC_OK);
    for (int y = 0; y < S; y++) {
        for (int x = 0; x < S; x++)
            *out++ = e[y * S + x] == 255 ? '#' : e[y * S + x] == 0 ? '.' : '?';
        *out++ = '/';
    }
    *out = '\0';
}

static const char COLUMN3[] = "...#..../...#..../...#..../...#..../...#..../...#..../...#..../"
                              "...#..../";

Test(canny, a_step_gives_one_thin_line_on_its_first_column)
{
    /* |dx| = 4 * 255 = 1020 on columns 3 and 4, 0 elsewhere, dy = 0: the thinning keeps the
     * first of two equal maxima along the row (> before, >= after) */
    uint8_t img[S * S];
    char got[S * (S + 1) + 1];
    step(img, 4, 255);
    edges_of(img, 1, 100, 200, got);
    cr_expect_str_eq(got, COLUMN3);
}

Test(canny, thresholds_are_strict_and_swapped_when_reversed)
{
    /* a step of 40: magnitude 160 */
    uint8_t img[S * S];
    char got[S * (S + 1) + 1];
    step(img, 4, 40);
    edges_of(img, 1, 100, 200, got); /* weak everywhere, no seed */
    cr_expect_str_eq(got, "......../......../......../......../......../......../......../"
                          "......../");
    edges_of(img, 1, 100, 159, got); /* 160 > 159: seeds */
    cr_expect_str_eq(got, COLUMN3);
    edges_of(img, 1, 100, 160, got); /* 160 > 160 fails */
    cr_expect(strchr(got, '#') == NULL, "%s", got);
    edges_of(img, 1, 159, 100, got); /* reversed: low 100, high 159 */
    cr_expect_str_eq(got, COLUMN3);
    edges_of(img, 1, 160, 160, got); /* 160 > low 160 fails: not even a candidate */
    cr_expect(strchr(got, '#') == NULL, "%s", got);
}

Test(canny, hysteresis_grows_from_strong_pixels_along_weak_ones)
{
    /* right of column 4 the value ramps down the rows, v(y) = 100 + 20 y. On column 4 the
     * magnitude is 4 v(y) + 3 * 40 = 520 + 80 y inside (480 on row 0, 1000 on row 7), the
     * largest of its row, so the thin line is column 4. The ramp right of it has |dy| =
     * 4 * 40 = 160 (80 on rows 0 and 7): low 170 leaves it out. With high 900 only rows 5..7
     * are strong; rows 0..4 (> low) join through the column. With high 2000 nothing seeds. */
    uint8_t img[S * S];
    char got[S * (S + 1) + 1];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            img[y * S + x] = (uint8_t)(x >= 4 ? 100 + 20 * y : 0);
    edges_of(img, 1, 170, 900, got);
    cr_expect_str_eq(got, "....#.../....#.../....#.../....#.../....#.../....#.../....#.../"
                          "....#.../");
    /* low 100 lets the ramp's row 1 in (160 > 80 above it, >= 160 below it along its
     * vertical gradient), joined to the line on its left */
    edges_of(img, 1, 100, 900, got);
    cr_expect_str_eq(got, "....#.../....####/....#.../....#.../....#.../....#.../....#.../"
                          "....#.../");
    edges_of(img, 1, 170, 2000, got);
    cr_expect(strchr(got, '#') == NULL, "%s", got);
}

Test(canny, two_steps_keep_only_the_seeded_one)
{
    /* 0 | 40 from column 2 | 255 from column 6: magnitudes 160 on columns 1-2 and
     * 4 * 215 = 860 on columns 5-6; with 100, 500 only the second line (column 5) stays */
    uint8_t img[S * S];
    char got[S * (S + 1) + 1];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            img[y * S + x] = (uint8_t)(x >= 6 ? 255 : x >= 2 ? 40 : 0);
    edges_of(img, 1, 100, 500, got);
    cr_expect_str_eq(got, ".....#../.....#../.....#../.....#../.....#../.....#../.....#../"
                          ".....#../");
    edges_of(img, 1, 100, 150, got); /* both seeded */
    cr_expect_str_eq(got, ".#...#../.#...#../.#...#../.#...#../.#...#../.#...#../.#...#../"
                          ".#...#../");
}

Test(canny, colour_pictures_take_the_strongest_channel)
{
    /* the step only in blue: the same line as a gray step */
    uint8_t gray[S * S], rgb[S * S * 3] = {0};
    char got[S * (S + 1) + 1];
    step(gray, 4, 255);
    for (int i = 0; i < S * S; i++)
        rgb[3 * i + 2] = gray[i];
    edges_of(rgb, 3, 100, 200, got);
    cr_expect_str_eq(got, COLUMN3);
}

/* OpenCV's own edges (cv2.Canny of OpenCV 4.6.0, made by tools/canny_reference.py and
 * committed in tests/data/canny) on photo-like pictures: smooth shading, noise, near-ties.
 * Every pixel must agree: the thresholds, thinning and hysteresis decide the same. */
static void expect_opencv_edges(const char *name, int low, int high)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/canny/%s.png", name);
    sdc_image pic, ref;
    cr_assert_eq(sdc_image_load(source_path(path), &pic, NULL), SDC_OK, "%s", sdc_last_error());
    snprintf(path, sizeof path, "tests/data/canny/%s.%d-%d.png", name, low, high);
    cr_assert_eq(sdc_image_load_gray(source_path(path), &ref, NULL), SDC_OK, "%s",
                 sdc_last_error());
    cr_assert(ref.width == pic.width && ref.height == pic.height);
    size_t n = (size_t)pic.width * pic.height;
    uint8_t *edges = malloc(n);
    cr_assert_not_null(edges);
    cr_assert_eq(sdc_canny(pic.pixels, pic.width, pic.height, pic.channels, low, high, edges),
                 SDC_OK);
    size_t differ = 0, count = 0;
    for (size_t i = 0; i < n; i++) {
        differ += edges[i] != ref.pixels[i];
        count += ref.pixels[i] != 0;
    }
    cr_expect_eq(differ, 0, "%s at %d,%d: %zu of %zu pixels differ from OpenCV's (%zu edge "
                 "pixels)", name, low, high, differ, n, count);
    cr_expect_gt(count, 200, "%s at %d,%d: too few edges to tell anything", name, low, high);
    free(edges);
    sdc_image_free(&ref);
    sdc_image_free(&pic);
}

Test(canny_opencv, photo_like_pictures_give_opencvs_edges)
{
    static const int thresholds[][2] = {{100, 200}, {50, 150}, {20, 60}};
    for (int t = 0; t < 3; t++) {
        expect_opencv_edges("balls", thresholds[t][0], thresholds[t][1]);
        expect_opencv_edges("texture", thresholds[t][0], thresholds[t][1]);
    }
}

Test(canny, refuses_what_it_cannot_read)
{
    uint8_t px[4] = {0}, e[4];
    cr_expect_eq(sdc_canny(px, 0, 1, 1, 1, 2, e), SDC_ERR_ARG);
    cr_expect_eq(sdc_canny(px, 2, 2, 2, 1, 2, e), SDC_ERR_ARG);
}

/* ---- the pipeline's use of the nets ------------------------------------------------------- */

typedef struct pipeline_nets {
    sdc_checkpoint *ck;
    sdc_unet *unet;
    sdc_image picture;
    sdc_control c;
    sdc_generate_params p;
} pipeline_nets;

static char net_path[512];

/* tiny-sd1's UNet and control_tiny_edges on edges.png at 128x128, strength 0.5 */
static void nets_open(pipeline_nets *n)
{
    memset(n, 0, sizeof *n);
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sd1/model.safetensors"), &n->ck),
                 SDC_OK);
    cr_assert_eq(sdc_unet_load(n->ck, &n->unet), SDC_OK);
    cr_assert_eq(sdc_image_load(golden_path("controlnet/control/edges.png"), &n->picture, NULL),
                 SDC_OK);
    snprintf(net_path, sizeof net_path, "%s",
             golden_path("controlnet/models/control_tiny_edges.safetensors"));
    n->c = sdc_control_default_params();
    n->c.path = net_path;
    n->c.rgb = n->picture.pixels, n->c.width = n->picture.width;
    n->c.height = n->picture.height;
    n->c.strength = 0.5f;
    n->p = sdc_generate_default_params();
    n->p.width = n->p.height = 128;
    n->p.controls = &n->c;
    n->p.control_count = 1;
}

static void nets_close(pipeline_nets *n)
{
    sdc_image_free(&n->picture);
    sdc_unet_free(n->unet);
    sdc_checkpoint_close(n->ck);
}

/* Guess mode with guidance: the net runs on the prompt's row only, the negative row gets no
 * residual, and residual i is scaled by strength * 10^(-1 + i / 12). */
Test(controlnet, guess_mode_feeds_only_the_prompt_row)
{
    pipeline_nets n;
    nets_open(&n);
    sdc_safetensors *st = golden_open("controlnet/cases/controlnet.control_tiny_edges."
                                      "safetensors");
    const sdc_st_entry *x = golden_get(st, "x"), *ctx = golden_get(st, "context");
    float *x1 = golden_f32(x), *c1 = golden_f32(ctx), t = scalar(st, "t");
    size_t nx = sdc_tensor_numel(&x->tensor), nc = sdc_tensor_numel(&ctx->tensor);
    /* rows [case, noise]: the prompt's, then the negative, whose own input must not matter */
    float *x2 = calloc(2 * nx, sizeof *x2), *c2 = calloc(2 * nc, sizeof *c2);
    memcpy(x2, x1, nx * sizeof *x2);
    memcpy(c2, c1, nc * sizeof *c2);
    for (size_t i = 0; i < nx; i++)
        x2[nx + i] = (float)(i % 7) - 3.0f;
    n.c.guess_mode = 1;
    sdc_pipeline_control pc;
    cr_assert_eq(sdc_pipeline_control_prepare(&n.p, n.unet, 16, 16, 2, 1, &pc), SDC_OK, "%s",
                 sdc_last_error());
    sdc_unet_cond c = {.context = c2, .tokens = dim(ctx, 1)};
    const float *const *res;
    cr_assert_eq(sdc_pipeline_control_residuals(&pc, x2, t, &c, 0, 5, &res), SDC_OK);
    cr_assert_not_null(res);
    for (int i = 0; i < 13; i++) {
        char name[16];
        snprintf(name, sizeof name, i < 12 ? "down%d" : "mid", i);
        const sdc_st_entry *e = golden_get(st, name);
        size_t row = sdc_tensor_numel(&e->tensor);
        float *want = golden_f32(e), zero = 0.0f;
        double scale = 0.5 * pow(10.0, -1.0 + i / 12.0);
        for (size_t k = 0; k < row; k++) {
            zero = fabsf(res[i][row + k]) > zero ? fabsf(res[i][row + k]) : zero;
            want[k] = (float)(want[k] * scale);
        }
        cr_expect_eq(zero, 0.0f, "%s: the negative row got a residual", name);
        cr_expect_leq(max_abs_diff(res[i], want, row),
                      golden_set_tol("controlnet", CASE, name), "%s", name);
        free(want);
    }
    sdc_pipeline_control_free(&pc);
    free(x1), free(c1), free(x2), free(c2);
    sdc_safetensors_close(st);
    nets_close(&n);
}

/* The guidance window of diffusers: call i of N runs when i / N >= start and
 * (i + 1) / N <= end; outside it no residuals at all. */
Test(controlnet, guidance_window_picks_the_calls)
{
    pipeline_nets n;
    nets_open(&n);
    n.c.start = 0.2f, n.c.end = 0.6f;
    sdc_pipeline_control pc;
    cr_assert_eq(sdc_pipeline_control_prepare(&n.p, n.unet, 16, 16, 1, 1, &pc), SDC_OK, "%s",
                 sdc_last_error());
    float *x = calloc(4 * 16 * 16, sizeof *x), *ctx = calloc(77 * 64, sizeof *ctx);
    sdc_unet_cond c = {.context = ctx, .tokens = 77};
    const int want[5] = {0, 1, 1, 0, 0};
    for (int i = 0; i < 5; i++) {
        const float *const *res;
        cr_assert_eq(sdc_pipeline_control_residuals(&pc, x, 500.0f, &c, i, 5, &res), SDC_OK);
        cr_expect_eq(res != NULL, want[i], "call %d of 5", i);
    }
    sdc_pipeline_control_free(&pc);
    free(x);
    free(ctx);
    nets_close(&n);
}

/* Untrusted parameters: one-line errors naming the net, nothing loaded half-way. */
Test(controlnet, bad_parameters_are_refused)
{
    pipeline_nets n;
    nets_open(&n);
    sdc_pipeline_control pc;
    n.c.start = 0.7f, n.c.end = 0.3f;
    cr_expect_eq(sdc_pipeline_control_prepare(&n.p, n.unet, 16, 16, 1, 1, &pc), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "control_tiny_edges"), "%s", sdc_last_error());
    n.c.start = 0.0f, n.c.end = 1.0f, n.c.width = 0;
    cr_expect_eq(sdc_pipeline_control_prepare(&n.p, n.unet, 16, 16, 1, 1, &pc), SDC_ERR_ARG);
    n.c.width = n.picture.width, n.c.strength = NAN;
    cr_expect_eq(sdc_pipeline_control_prepare(&n.p, n.unet, 16, 16, 1, 1, &pc), SDC_ERR_ARG);
    n.c.strength = 1.0f, n.c.path = golden_path("models/tiny-sd1/model.safetensors");
    cr_expect_eq(sdc_pipeline_control_prepare(&n.p, n.unet, 16, 16, 1, 1, &pc), SDC_ERR_FORMAT);
    cr_expect(strstr(sdc_last_error(), "not a ControlNet"), "%s", sdc_last_error());
    n.c.path = net_path;
    n.c.struct_size = 8; /* ends before the picture: refused, not read */
    cr_expect_eq(sdc_pipeline_control_prepare(&n.p, n.unet, 16, 16, 1, 1, &pc), SDC_ERR_ARG);
    n.c.struct_size = sizeof n.c;
    n.p.control_count = -1;
    cr_expect_eq(sdc_pipeline_control_prepare(&n.p, n.unet, 16, 16, 1, 1, &pc), SDC_ERR_ARG);
    nets_close(&n);
}

/* SDC_CONTROL_PREPROCESS_CANNY: the net sees sdc_canny of the picture with the control's
 * thresholds, gray in all three channels. */
Test(controlnet, canny_preprocessor_uses_the_thresholds)
{
    uint8_t rgb[S * S * 3], gray[S * S], e[S * S];
    step(gray, 4, 40); /* magnitude 160 */
    for (int i = 0; i < S * S; i++)
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
    sdc_control c = sdc_control_default_params();
    c.path = "net", c.rgb = rgb, c.width = c.height = S;
    c.preprocess = SDC_CONTROL_PREPROCESS_CANNY;
    const int thresholds[2][2] = {{100, 200}, {100, 150}};
    for (int k = 0; k < 2; k++) {
        c.canny_low = thresholds[k][0], c.canny_high = thresholds[k][1];
        float *got;
        cr_assert_eq(sdc_pipeline_control_picture(&c, S, S, &got), SDC_OK);
        cr_assert_eq(sdc_canny(gray, S, S, 1, c.canny_low, c.canny_high, e), SDC_OK);
        int edges = 0;
        for (int i = 0; i < S * S; i++) {
            edges += e[i] == 255;
            for (int ch = 0; ch < 3; ch++)
                cr_expect_eq(got[ch * S * S + i], e[i] / 255.0f, "pixel %d channel %d", i, ch);
        }
        cr_expect_eq(edges, k == 0 ? 0 : S, "thresholds %d,%d", c.canny_low, c.canny_high);
        free(got);
    }
}
