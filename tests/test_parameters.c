/* Every field of sdc_generate_params reaches the picture (issue 16: --freeu was parsed,
 * written into the metadata and never given to the UNet). With the built-in demo model
 * (models/demo, 64x64, a few steps: seconds in all), each field gets a value other than the
 * one of its context and the rendered picture must change. The context is what makes the
 * field matter at all (eta needs DDIM, mask_blur a mask, ...); init images and masks are
 * drawn here. Fields that are not picture parameters say why and must leave it unchanged.
 * The table must cover the struct: a field added to sdc.h without a row fails the test. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "sdc.h"

#define SIDE 64     /* the demo model's size */
#define BIG 128     /* init pictures larger than the working size, for SDC_INPAINT_MASKED */
#define WIDE 576    /* wider than one 64-latent VAE tile, so --vae-tiling has tiles to blend */

static uint8_t init_a[BIG * BIG * 3], init_b[BIG * BIG * 3]; /* read as SIDE x SIDE or BIG x BIG */
static uint8_t mask_small[SIDE * SIDE], mask_big[BIG * BIG];

/* Two different pictures (a red disc on a gradient, a blue band on grey) and a mask that
 * repaints a centred square a quarter of the side wide. */
static void draw_inputs(void)
{
    for (int y = 0; y < BIG; y++)
        for (int x = 0; x < BIG; x++) {
            uint8_t *a = init_a + (y * BIG + x) * 3, *b = init_b + (y * BIG + x) * 3;
            int dx = x % SIDE - SIDE / 2, dy = y % SIDE - SIDE / 2;
            int disc = dx * dx + dy * dy < 12 * 12;
            a[0] = disc ? 220 : (uint8_t)(2 * x);
            a[1] = disc ? 30 : (uint8_t)(2 * y);
            a[2] = disc ? 30 : 128;
            int band = (y % SIDE) > 20 && (y % SIDE) < 40;
            b[0] = band ? 20 : 140;
            b[1] = band ? 40 : 140;
            b[2] = band ? 230 : 140;
        }
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++)
            mask_small[y * SIDE + x] = x >= 24 && x < 40 && y >= 24 && y < 40 ? 255 : 0;
    for (int y = 0; y < BIG; y++)
        for (int x = 0; x < BIG; x++)
            mask_big[y * BIG + x] = x >= 56 && x < 72 && y >= 56 && y < 72 ? 255 : 0;
}

/* ---- contexts: what a field needs before it can matter ---------------------------- */

static void txt2img(sdc_generate_params *g)
{
    g->prompt = "a red circle";
    g->width = g->height = SIDE;
    g->steps = 4;
    g->seed = 7;
}

static void emphasised(sdc_generate_params *g) { txt2img(g); g->prompt = "a (red:1.6) circle"; }
static void ddim(sdc_generate_params *g) { txt2img(g); g->sampler = "ddim"; }
static void wide(sdc_generate_params *g) { txt2img(g); g->width = WIDE; }
static void hires_on(sdc_generate_params *g) { txt2img(g); g->hires = 1; }

static void diffusers_spacing(sdc_generate_params *g)
{
    txt2img(g);
    g->sampler = "euler";
    g->scheduler = "linspace";
}

static void freeu_on(sdc_generate_params *g)
{
    txt2img(g);
    g->freeu = 1;
    g->freeu_b1 = 1.5f, g->freeu_b2 = 1.6f, g->freeu_s1 = 0.9f, g->freeu_s2 = 0.2f;
}

static void img2img(sdc_generate_params *g)
{
    txt2img(g);
    g->init_rgb = init_a;
    g->init_width = g->init_height = SIDE;
}

static void inpaint(sdc_generate_params *g)
{
    img2img(g);
    g->mask = mask_small;
}

/* Inpainting a small square of a big picture, rendered at the demo's size both ways. */
static void inpaint_big(sdc_generate_params *g)
{
    inpaint(g);
    g->init_width = g->init_height = BIG;
    g->mask = mask_big;
    g->width = g->height = BIG;
}

static void inpaint_masked_area(sdc_generate_params *g)
{
    inpaint_big(g);
    g->width = g->height = SIDE;
    g->inpaint_area = SDC_INPAINT_MASKED;
}

/* ---- changes ------------------------------------------------------------------------ */

#define CHANGE(name, stmt) \
    static void name(sdc_generate_params *g) { stmt; }

CHANGE(set_prompt, g->prompt = "a blue square")
CHANGE(set_negative_prompt, g->negative_prompt = "red")
CHANGE(set_width, g->width = SIDE + 8)
CHANGE(set_height, g->height = SIDE + 8)
CHANGE(set_steps, g->steps = 6)
CHANGE(set_cfg_scale, g->cfg_scale = 3.0f)
CHANGE(set_seed, g->seed = 8)
CHANGE(set_sampler, g->sampler = "euler")
CHANGE(set_scheduler, g->scheduler = "karras")
CHANGE(set_karras_sigmas, g->karras_sigmas = 1)
CHANGE(set_rng, g->rng = SDC_RNG_TYPE_CPU)
CHANGE(set_clip_skip, g->clip_skip = 2)
CHANGE(set_emphasis, g->emphasis = 0)
CHANGE(set_eta, g->eta = 1.0f)
CHANGE(set_vae_tiling, g->vae_tiling = 1)
CHANGE(set_unet_tile, g->unet_tile = 8)
CHANGE(set_hires, g->hires = 1)
CHANGE(set_hr_scale, g->hr_scale = 1.5f)
CHANGE(set_hr_upscaler, g->hr_upscaler = "lanczos")
CHANGE(set_hr_steps, g->hr_steps = 2)
CHANGE(set_hr_denoising, g->hr_denoising = 0.4f)
CHANGE(set_hr_sampler, g->hr_sampler = "euler")
CHANGE(set_freeu, freeu_on(g))
CHANGE(set_freeu_b1, g->freeu_b1 = 1.1f)
CHANGE(set_freeu_b2, g->freeu_b2 = 1.1f)
CHANGE(set_freeu_s1, g->freeu_s1 = 0.5f)
CHANGE(set_freeu_s2, g->freeu_s2 = 0.8f)
CHANGE(set_init_rgb, g->init_rgb = init_b)
/* the same bytes read as a 128 x 32 picture */
CHANGE(set_init_width, (g->init_width = 2 * SIDE, g->init_height = SIDE / 2))
CHANGE(set_init_height, (g->init_height = 2 * SIDE, g->init_width = SIDE / 2))
CHANGE(set_strength, g->strength = 0.4f)
CHANGE(set_mask, g->mask = mask_small)
CHANGE(set_mask_blur, g->mask_blur = 12.0f)
CHANGE(set_inpaint_area, g->inpaint_area = SDC_INPAINT_MASKED)
CHANGE(set_inpaint_padding, g->inpaint_padding = 8)
CHANGE(set_struct_size, g->struct_size = sizeof *g)
static float flat_depth[8 * 8];
CHANGE(set_depth_map, (g->depth_map = flat_depth, g->depth_width = g->depth_height = 8))
CHANGE(set_original_width, g->original_width = 1024)
CHANGE(set_original_height, g->original_height = 1024)
CHANGE(set_crop_top, g->crop_top = 16)
CHANGE(set_crop_left, g->crop_left = 16)
CHANGE(set_target_width, g->target_width = 128)
CHANGE(set_target_height, g->target_height = 128)
CHANGE(set_aesthetic_score, g->aesthetic_score = 3)
CHANGE(set_negative_aesthetic_score, g->negative_aesthetic_score = 3)

static int progress_count;
static int count_progress(const char *stage, int step, int steps, void *user_data)
{
    (void)stage, (void)step, (void)steps, (void)user_data;
    progress_count++;
    return 0;
}
CHANGE(set_progress, g->progress = count_progress)
CHANGE(set_user_data, (g->progress = count_progress, g->user_data = &progress_count))

/* Previews are shown, never fed back: each preview field must leave the picture alone and
 * reach the callback (their steps and contents: tests/test_preview.c). */
static int preview_count;
static int count_preview(const uint8_t *rgb, int width, int height, int step, int steps,
                         void *user_data)
{
    (void)rgb, (void)width, (void)height, (void)step, (void)steps, (void)user_data;
    preview_count++;
    return 0;
}
static void previewing(sdc_generate_params *g) { txt2img(g); g->preview_fn = count_preview; }
CHANGE(set_preview, g->preview = SDC_PREVIEW_VAE)
CHANGE(set_preview_interval, (g->preview = SDC_PREVIEW_PROJ, g->preview_interval = 3))
CHANGE(set_preview_fn, (g->preview = SDC_PREVIEW_PROJ, g->preview_fn = count_preview))
#define PREVIEW_CHANGE(c) ((c) == set_preview || (c) == set_preview_interval || \
                           (c) == set_preview_fn)

/* ---- the table ---------------------------------------------------------------------- */

typedef struct field_case {
    const char *field;
    size_t offset, size;
    void (*context)(sdc_generate_params *g);
    void (*change)(sdc_generate_params *g);
    const char *not_picture; /* why the field must leave the picture alone; NULL = it must not */
    /* SDXL-only fields: the demo model (SD 1.x) refuses them, their effect is checked where
     * this says; fields with another model as value are checked where this says too */
    const char *elsewhere;
    int refused;             /* the demo model refuses the field (SDC_ERR_ARG) */
} field_case;

#define FIELD(f) #f, offsetof(sdc_generate_params, f), sizeof(((sdc_generate_params *)0)->f)

#define SDXL_ONLY "tests/test_pipeline.c sdxl_size_and_crop_conditioning_change_the_picture " \
                  "and tests/test_refiner.c (golden tiny SDXL)"

#define DEPTH_ONLY "tests/test_pipeline.c depth2img_sd2_depth_ddim (golden SD 2 depth model)"
#define LORA_FILES "tests/test_lora.c prompt_tags_change_one_generation_and_are_recorded " \
                   "(the golden LoRA files are for tiny-sd1, not the demo model)"

#define CONTROLNETS "tests/test_pipeline.c controlnet_* (golden ControlNet trajectories) and " \
                    "tests/test_controlnet.c (each sdc_control field: guess mode, window, " \
                    "strength, preprocessors; the golden nets are for tiny-sd1)"

static const field_case cases[] = {
    {FIELD(struct_size), txt2img, set_struct_size,
     "the caller's header size (tests/test_api.c: older sizes get the defaults)", NULL, 0},
    {FIELD(prompt), txt2img, set_prompt, NULL, NULL, 0},
    {FIELD(negative_prompt), txt2img, set_negative_prompt, NULL, NULL, 0},
    {FIELD(width), txt2img, set_width, NULL, NULL, 0},
    {FIELD(height), txt2img, set_height, NULL, NULL, 0},
    {FIELD(steps), txt2img, set_steps, NULL, NULL, 0},
    {FIELD(cfg_scale), txt2img, set_cfg_scale, NULL, NULL, 0},
    {FIELD(seed), txt2img, set_seed, NULL, NULL, 0},
    {FIELD(sampler), txt2img, set_sampler, NULL, NULL, 0},
    {FIELD(scheduler), txt2img, set_scheduler, NULL, NULL, 0},
    {FIELD(karras_sigmas), diffusers_spacing, set_karras_sigmas, NULL, NULL, 0},
    {FIELD(rng), txt2img, set_rng, NULL, NULL, 0},
    {FIELD(clip_skip), txt2img, set_clip_skip, NULL, NULL, 0},
    {FIELD(emphasis), emphasised, set_emphasis, NULL, NULL, 0},
    {FIELD(eta), ddim, set_eta, NULL, NULL, 0},
    {FIELD(progress), txt2img, set_progress,
     "a callback that reports progress and can stop the run, never alters it", NULL, 0},
    {FIELD(user_data), txt2img, set_user_data, "only handed to the progress callback", NULL, 0},
    {FIELD(init_rgb), img2img, set_init_rgb, NULL, NULL, 0},
    {FIELD(init_width), img2img, set_init_width, NULL, NULL, 0},
    {FIELD(init_height), img2img, set_init_height, NULL, NULL, 0},
    {FIELD(strength), img2img, set_strength, NULL, NULL, 0},
    {FIELD(mask), img2img, set_mask, NULL, NULL, 0},
    {FIELD(mask_blur), inpaint, set_mask_blur, NULL, NULL, 0},
    {FIELD(inpaint_area), inpaint_big, set_inpaint_area, NULL, NULL, 0},
    {FIELD(inpaint_padding), inpaint_masked_area, set_inpaint_padding, NULL, NULL, 0},
    {FIELD(vae_tiling), wide, set_vae_tiling, NULL, NULL, 0},
    {FIELD(freeu), txt2img, set_freeu, NULL, NULL, 0},
    {FIELD(freeu_b1), freeu_on, set_freeu_b1, NULL, NULL, 0},
    {FIELD(freeu_b2), freeu_on, set_freeu_b2, NULL, NULL, 0},
    {FIELD(freeu_s1), freeu_on, set_freeu_s1, NULL, NULL, 0},
    {FIELD(freeu_s2), freeu_on, set_freeu_s2, NULL, NULL, 0},
    {FIELD(original_width), txt2img, set_original_width, NULL, SDXL_ONLY, 1},
    {FIELD(original_height), txt2img, set_original_height, NULL, SDXL_ONLY, 1},
    {FIELD(crop_top), txt2img, set_crop_top, NULL, SDXL_ONLY, 1},
    {FIELD(crop_left), txt2img, set_crop_left, NULL, SDXL_ONLY, 1},
    {FIELD(target_width), txt2img, set_target_width, NULL, SDXL_ONLY, 1},
    {FIELD(target_height), txt2img, set_target_height, NULL, SDXL_ONLY, 1},
    {FIELD(aesthetic_score), txt2img, set_aesthetic_score, NULL, SDXL_ONLY, 1},
    {FIELD(negative_aesthetic_score), txt2img, set_negative_aesthetic_score, NULL, SDXL_ONLY, 1},
    {FIELD(refiner), txt2img, NULL, NULL, "tests/test_refiner.c (a second model)", 0},
    {FIELD(refiner_switch), txt2img, NULL, NULL, "tests/test_refiner.c (with a refiner)", 0},
    {FIELD(depth_map), txt2img, set_depth_map, NULL, DEPTH_ONLY, 1},
    {FIELD(depth_width), txt2img, set_depth_map, NULL, DEPTH_ONLY, 1},
    {FIELD(depth_height), txt2img, set_depth_map, NULL, DEPTH_ONLY, 1},
    {FIELD(noise_level), txt2img, NULL, NULL,
     "tests/test_pipeline.c upscale_x4_noise_level_20 / _100 (golden x4 upscaler; other "
     "models take no low-res picture)", 0},
    {FIELD(lora_dir), txt2img, NULL, NULL, LORA_FILES, 0},
    {FIELD(loras), txt2img, NULL, NULL, LORA_FILES, 0},
    {FIELD(lora_count), txt2img, NULL, NULL, LORA_FILES, 0},
    {FIELD(embd_dir), txt2img, NULL, NULL,
     "tests/test_pipeline.c ti_txt2img (the golden embeddings are for tiny-sd1)", 0},
    {FIELD(controls), txt2img, NULL, NULL, CONTROLNETS, 0},
    {FIELD(control_count), txt2img, NULL, NULL, CONTROLNETS, 0},
    {FIELD(unet_tile), wide, set_unet_tile, NULL, NULL, 0},
    {FIELD(hires), txt2img, set_hires, NULL, NULL, 0},
    {FIELD(hr_scale), hires_on, set_hr_scale, NULL, NULL, 0},
    {FIELD(hr_upscaler), hires_on, set_hr_upscaler, NULL, NULL, 0},
    {FIELD(hr_upscale_model), hires_on, NULL, NULL,
     "tests/test_hires.c x4_model_upscales_the_first_pass (the golden x4 upscaler)", 0},
    {FIELD(hr_steps), hires_on, set_hr_steps, NULL, NULL, 0},
    {FIELD(hr_denoising), hires_on, set_hr_denoising, NULL, NULL, 0},
    {FIELD(hr_sampler), hires_on, set_hr_sampler, NULL, NULL, 0},
    {FIELD(preview), previewing, set_preview, "shows the denoised picture, never alters it",
     NULL, 0},
    {FIELD(preview_interval), previewing, set_preview_interval, "how often it is shown", NULL,
     0},
    {FIELD(preview_fn), txt2img, set_preview_fn, "the preview callback", NULL, 0},
};
#define NCASES (sizeof cases / sizeof *cases)

/* ---- rendering ---------------------------------------------------------------------- */

typedef struct picture {
    uint8_t *rgb;
    int width, height;
} picture;

static sdc_model *load_demo(void)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = source_path("models/demo/model.safetensors");
    sdc_model *m = NULL;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "cannot load the demo model: %s",
                 sdc_last_error());
    return m;
}

static picture render(sdc_model *m, const sdc_generate_params *g, const char *what)
{
    picture p;
    sdc_generate_output_size(g, &p.width, &p.height);
    p.rgb = malloc((size_t)p.width * p.height * 3);
    cr_assert(p.rgb);
    cr_assert_eq(sdc_generate(m, g, p.rgb), SDC_OK, "%s: %s", what, sdc_last_error());
    return p;
}

/* Mean |a - b| over the pixels both pictures have (they may differ in size). */
static double mean_diff(const picture *a, const picture *b)
{
    int w = a->width < b->width ? a->width : b->width;
    int h = a->height < b->height ? a->height : b->height;
    double sum = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w * 3; x++)
            sum += abs(a->rgb[(size_t)y * a->width * 3 + x] - b->rgb[(size_t)y * b->width * 3 + x]);
    return sum / ((double)w * h * 3);
}

static void check_field(sdc_model *m, const field_case *c)
{
    sdc_generate_params g = sdc_generate_default_params();
    c->context(&g);
    if (c->elsewhere) {
        cr_log_info("%s: its effect is checked in %s", c->field, c->elsewhere);
        if (c->refused) {
            uint8_t rgb[SIDE * SIDE * 3];
            c->change(&g);
            cr_expect_eq(sdc_generate(m, &g, rgb), SDC_ERR_ARG, "%s: the demo model (SD 1.x) "
                         "must refuse it, not ignore it", c->field);
        }
        return;
    }
    picture before = render(m, &g, c->field);
    progress_count = preview_count = 0;
    c->change(&g);
    picture after = render(m, &g, c->field);
    double d = mean_diff(&before, &after);
    if (c->not_picture) {
        cr_expect(d == 0.0, "%s (%s) changed the picture: mean |diff| %.3f", c->field,
                  c->not_picture, d);
        if (c->change == set_progress || c->change == set_user_data)
            cr_expect_gt(progress_count, 0, "%s: the progress callback was never called",
                         c->field);
        if (PREVIEW_CHANGE(c->change))
            cr_expect_gt(preview_count, 0, "%s: the preview callback was never called",
                         c->field);
    } else {
        cr_expect(d > 0.0, "setting %s leaves the picture unchanged", c->field);
    }
    free(before.rgb);
    free(after.rgb);
}

Test(parameters, table_covers_every_field)
{
    /* the rows in struct order, each starting where the previous ended up to padding (all
     * fields are scalars or pointers, aligned to their size), the last one ending the struct */
    size_t end = 0;
    for (size_t i = 0; i < NCASES; i++) {
        size_t align = cases[i].size;
        cr_expect(cases[i].offset >= end && cases[i].offset - end < align,
                  "sdc_generate_params has a field between the end of %s and %s that "
                  "tests/test_parameters.c does not list", i ? cases[i - 1].field : "(start)",
                  cases[i].field);
        end = cases[i].offset + cases[i].size;
    }
    cr_expect(sizeof(sdc_generate_params) - end < sizeof(void *),
              "sdc_generate_params has fields after %s that tests/test_parameters.c does not "
              "list", cases[NCASES - 1].field);
}

Test(parameters, every_field_changes_the_picture)
{
    draw_inputs();
    sdc_model *m = load_demo();
    for (size_t i = 0; i < NCASES; i++)
        check_field(m, &cases[i]);
    sdc_model_free(m);
}

/* FreeU is state of the loaded UNet: a generation without it after one with it must give
 * the picture a fresh model gives. */
Test(parameters, freeu_does_not_outlive_its_generation)
{
    sdc_model *m = load_demo();
    sdc_generate_params plain = sdc_generate_default_params(), with = plain;
    txt2img(&plain);
    freeu_on(&with);
    picture first = render(m, &plain, "without FreeU");
    picture filtered = render(m, &with, "with FreeU");
    picture again = render(m, &plain, "without FreeU after a FreeU run");
    cr_expect(mean_diff(&first, &filtered) > 0.0, "FreeU does not change the picture");
    cr_expect(mean_diff(&first, &again) == 0.0,
              "FreeU of the previous generation still applies to the next one");
    free(first.rgb);
    free(filtered.rgb);
    free(again.rgb);
    sdc_model_free(m);
}

/* The picture of `width` x SIDE with vae_tiling as given. */
static picture render_tiling(sdc_model *m, int width, int tiling)
{
    sdc_generate_params g = sdc_generate_default_params();
    txt2img(&g);
    g.steps = 1;
    g.width = width;
    if (tiling != SDC_VAE_TILING_AUTO)
        g.vae_tiling = tiling;
    return render(m, &g, tiling ? "tiled" : "untiled");
}

/* Whether both pictures are the same bytes (same size). */
static int same_picture(const picture *a, const picture *b)
{
    return a->width == b->width && a->height == b->height &&
           memcmp(a->rgb, b->rgb, (size_t)a->width * a->height * 3) == 0;
}

/* The default (SDC_VAE_TILING_AUTO) decodes in tiles exactly when a side exceeds
 * SDC_VAE_TILING_AUTO_PX: at that size the picture is the untiled one, byte for byte, and one
 * more latent cell makes it the tiled one; 0 and 1 force either way at both sizes. */
Test(parameters, vae_tiling_default_follows_the_size)
{
    sdc_model *m = load_demo();
    cr_assert_eq(sdc_generate_default_params().vae_tiling, SDC_VAE_TILING_AUTO);
    static const int widths[] = {SDC_VAE_TILING_AUTO_PX, SDC_VAE_TILING_AUTO_PX + 8};
    for (int i = 0; i < 2; i++) {
        picture dflt = render_tiling(m, widths[i], SDC_VAE_TILING_AUTO);
        picture off = render_tiling(m, widths[i], 0), on = render_tiling(m, widths[i], 1);
        cr_expect(!same_picture(&off, &on), "%d px: tiling does not change the picture",
                  widths[i]);
        cr_expect(same_picture(&dflt, i == 0 ? &off : &on), "%d px: the default is not %s",
                  widths[i], i == 0 ? "untiled" : "tiled");
        free(dflt.rgb);
        free(off.rgb);
        free(on.rgb);
    }
    sdc_model_free(m);
}
