/* img2img and inpainting behaviour beyond the golden trajectories: what lies outside the
 * mask is never changed, degenerate masks and strengths, resized inputs, "only masked"
 * inpainting and outpainting canvases. Uses the golden tiny models at small sizes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "image/outpaint.h"
#include "pipeline/pipeline_impl.h"

static sdc_model *load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/%s/model.safetensors", golden_dir(), name);
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = path;
    sdc_model *m = NULL;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    return m;
}

/* A picture with structure (gradients and a stripe) and a rectangular mask. */
static uint8_t *make_picture(int w, int h)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *px = p + ((size_t)y * w + x) * 3;
            px[0] = (uint8_t)(x * 255 / w);
            px[1] = (uint8_t)(y * 255 / h);
            px[2] = (uint8_t)((x / 8 + y / 8) % 2 ? 200 : 40);
        }
    return p;
}

static uint8_t *make_mask(int w, int h, int x0, int y0, int x1, int y1)
{
    uint8_t *m = calloc((size_t)w * h, 1);
    for (int y = y0; y < y1; y++)
        memset(m + (size_t)y * w + x0, 255, (size_t)(x1 - x0));
    return m;
}

static sdc_generate_params small_params(void)
{
    sdc_generate_params p = sdc_generate_default_params();
    p.prompt = "a red apple";
    p.width = 64;
    p.height = 64;
    p.steps = 2;
    p.sampler = "ddim";
    p.rng = SDC_RNG_TYPE_CPU;
    p.strength = 1.0f;
    return p;
}

/* Pixels farther than `margin` from the mask box must equal the init image exactly. */
static void expect_outside_unchanged(const uint8_t *out, const uint8_t *init, int w, int h,
                                     int x0, int y0, int x1, int y1, int margin)
{
    int changed = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int near = x >= x0 - margin && x < x1 + margin && y >= y0 - margin &&
                       y < y1 + margin;
            if (!near && memcmp(out + ((size_t)y * w + x) * 3, init + ((size_t)y * w + x) * 3, 3))
                changed++;
        }
    cr_expect_eq(changed, 0, "%d pixels outside the mask (margin %d) changed", changed, margin);
}

static void whole_picture_case(const char *model, float blur)
{
    sdc_model *m = load(model);
    sdc_generate_params p = small_params();
    uint8_t *init = make_picture(64, 64), *mask = make_mask(64, 64, 16, 24, 40, 48);
    uint8_t *out = malloc(64 * 64 * 3);
    p.init_rgb = init, p.init_width = 64, p.init_height = 64;
    p.mask = mask;
    p.mask_blur = blur;
    cr_assert_eq(sdc_generate(m, &p, out), SDC_OK, "%s", sdc_last_error());
    int margin = (int)(2.5f * blur + 0.5f) + 1; /* the Gaussian's reach */
    expect_outside_unchanged(out, init, 64, 64, 16, 24, 40, 48, margin);
    cr_expect(memcmp(out, init, 64 * 64 * 3) != 0, "nothing was repainted");
    free(init), free(mask), free(out);
    sdc_model_free(m);
}

Test(inpaint, outside_unchanged_latent_blending) { whole_picture_case("tiny-sd1", 0.0f); }
Test(inpaint, outside_unchanged_with_blur) { whole_picture_case("tiny-sd1", 4.0f); }
Test(inpaint, outside_unchanged_inpainting_model) { whole_picture_case("tiny-sd1-inpaint", 4.0f); }

Test(inpaint, black_mask_returns_input)
{
    sdc_model *m = load("tiny-sd1");
    sdc_generate_params p = small_params();
    uint8_t *init = make_picture(64, 64), *mask = calloc(64 * 64, 1), *out = malloc(64 * 64 * 3);
    p.init_rgb = init, p.init_width = 64, p.init_height = 64, p.mask = mask;
    cr_assert_eq(sdc_generate(m, &p, out), SDC_OK);
    cr_expect(memcmp(out, init, 64 * 64 * 3) == 0);
    free(init), free(mask), free(out);
    sdc_model_free(m);
}

Test(inpaint, strength_zero_returns_input)
{
    sdc_model *m = load("tiny-sd1");
    sdc_generate_params p = small_params();
    uint8_t *init = make_picture(64, 64), *out = malloc(64 * 64 * 3);
    p.init_rgb = init, p.init_width = 64, p.init_height = 64, p.strength = 0.0f;
    cr_assert_eq(sdc_generate(m, &p, out), SDC_OK);
    cr_expect(memcmp(out, init, 64 * 64 * 3) == 0);
    free(init), free(out);
    sdc_model_free(m);
}

Test(inpaint, init_image_resized_to_output)
{
    sdc_model *m = load("tiny-sd1");
    sdc_generate_params p = small_params();
    uint8_t *init = make_picture(100, 90), *out = malloc(64 * 64 * 3);
    p.init_rgb = init, p.init_width = 100, p.init_height = 90, p.strength = 0.5f;
    cr_assert_eq(sdc_generate(m, &p, out), SDC_OK, "%s", sdc_last_error());
    free(init), free(out);
    sdc_model_free(m);
}

Test(inpaint, mask_without_image_is_refused)
{
    sdc_model *m = load("tiny-sd1");
    sdc_generate_params p = small_params();
    uint8_t mask[64 * 64] = {0}, *out = malloc(64 * 64 * 3);
    p.mask = mask;
    cr_expect_eq(sdc_generate(m, &p, out), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "init image") != NULL, "%s", sdc_last_error());
    free(out);
    sdc_model_free(m);
}

Test(inpaint, only_masked_area_keeps_the_rest)
{
    sdc_model *m = load("tiny-sd1");
    sdc_generate_params p = small_params();
    int W = 200, H = 152;
    uint8_t *init = make_picture(W, H), *mask = make_mask(W, H, 150, 100, 170, 120);
    uint8_t *out = malloc((size_t)W * H * 3);
    p.init_rgb = init, p.init_width = W, p.init_height = H, p.mask = mask;
    p.inpaint_area = SDC_INPAINT_MASKED;
    p.inpaint_padding = 8;
    p.mask_blur = 2;
    cr_assert_eq(sdc_generate(m, &p, out), SDC_OK, "%s", sdc_last_error());
    expect_outside_unchanged(out, init, W, H, 150, 100, 170, 120, 6);
    cr_expect(memcmp(out, init, (size_t)W * H * 3) != 0, "nothing was repainted");
    free(init), free(mask), free(out);
    sdc_model_free(m);
}

Test(inpaint, outpaint_canvas)
{
    uint8_t *pixels = make_picture(16, 8);
    sdc_image init = {16, 8, 3, pixels}, canvas, mask;
    int pad[4] = {8, 0, 4, 2};
    cr_assert_eq(sdc_outpaint_canvas(&init, NULL, pad, SDC_OUTPAINT_EDGE, 1, &canvas, &mask),
                 SDC_OK);
    cr_assert_eq(canvas.width, 28);
    cr_assert_eq(canvas.height, 10);
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 28; x++) {
            int inside = x >= 8 && x < 24 && y < 8;
            cr_expect_eq(mask.pixels[y * 28 + x], inside ? 0 : 255);
            int sx = x < 8 ? 0 : x >= 24 ? 15 : x - 8, sy = y >= 8 ? 7 : y;
            cr_expect(memcmp(canvas.pixels + (y * 28 + x) * 3, pixels + (sy * 16 + sx) * 3, 3) == 0);
        }
    sdc_image_free(&canvas);
    sdc_image_free(&mask);
    int bad[4] = {-1, 0, 0, 0};
    cr_expect_eq(sdc_outpaint_canvas(&init, NULL, bad, SDC_OUTPAINT_NOISE, 1, &canvas, &mask),
                 SDC_ERR_ARG);
    free(pixels);
}
