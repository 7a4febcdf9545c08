/* Hires fix (pipeline/hires.c) on the demo model: the latent upscalers interpolate as
 * torch's interpolate does, and each mode's result is exactly the documented procedure done
 * by hand (first pass, upscale, an img2img pass of hr_steps steps from a schedule of
 * int(hr_steps / hr_denoising) steps, same seed); the x4 upscaler model as upscaler on the
 * golden tiny models. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "image/resize_lanczos.h"
#include "pipeline/pipeline_impl.h"
#include "tests/golden.h"

/* torch.nn.functional.interpolate([[0, 1]] as [1, 1, 1, 2], size=(1, 4)): bilinear with
 * align_corners=False gives 0, 0.25, 0.75, 1; nearest of 3 -> 5 takes 0, 0, 1, 1, 2. */
Test(hires, latent_interpolation_is_torchs)
{
    const float two[2] = {0, 1}, three[3] = {10, 20, 30};
    float out[5];
    sdc_pipeline_latent_resize(two, 1, 1, 2, out, 1, 4, 0);
    const float bilinear[4] = {0, 0.25f, 0.75f, 1};
    cr_expect_arr_eq(out, bilinear, sizeof bilinear);
    sdc_pipeline_latent_resize(three, 1, 1, 3, out, 1, 5, 1);
    const float nearest[5] = {10, 10, 20, 20, 30};
    cr_expect_arr_eq(out, nearest, sizeof nearest);
    /* the same along rows, channel by channel */
    const float col[2 * 2] = {0, 1, 4, 8}; /* 2 channels of a 2x1 latent */
    float rows[2 * 4];
    sdc_pipeline_latent_resize(col, 2, 2, 1, rows, 4, 1, 0);
    const float want[8] = {0, 0.25f, 0.75f, 1, 4, 5, 7, 8};
    cr_expect_arr_eq(rows, want, sizeof want);
}

static sdc_model *demo(void)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = source_path("models/demo/model.safetensors");
    sdc_model *m;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    return m;
}

static sdc_generate_params hires_params(const char *upscaler)
{
    sdc_generate_params p = sdc_generate_default_params();
    p.prompt = "a red square on blue";
    p.width = p.height = 64;
    p.steps = 5;
    p.seed = 11;
    p.hires = 1;
    p.hr_scale = 1.5f;
    p.hr_upscaler = upscaler;
    p.hr_steps = 3;
    p.hr_denoising = 0.45f;
    return p;
}

/* The second pass of p, done by hand: steps int(3 / 0.45) = 6, the last 3 of them. */
static sdc_generate_params second_of(const sdc_generate_params *p)
{
    sdc_generate_params q = *p;
    q.hires = 0;
    q.width = q.height = 96;
    q.steps = 6;
    q.strength = 0.45f;
    return q;
}

static int sampling_steps;
static int count_steps(const char *stage, int step, int steps, void *ud)
{
    (void)step, (void)ud;
    if (strcmp(stage, "sampling") == 0)
        sampling_steps = steps;
    return 0;
}

Test(hires, latent_mode_is_img2img_from_the_interpolated_latent)
{
    sdc_model *m = demo();
    sdc_generate_params p = hires_params("latent");
    int W, H;
    sdc_generate_output_size(&p, &W, &H);
    cr_assert(W == 96 && H == 96, "output %dx%d", W, H);
    uint8_t *got = malloc(96 * 96 * 3), *want = malloc(96 * 96 * 3);
    float small[4 * 8 * 8], big[4 * 12 * 12];
    cr_assert(got && want);
    p.progress = count_steps;
    cr_assert_eq(sdc_generate(m, &p, got), SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(sampling_steps, 3, "the second pass ran %d model calls, not hr_steps",
                 sampling_steps);
    p.progress = NULL;
    sdc_generate_params first = p;
    first.hires = 0;
    cr_assert_eq(sdc_pipeline_generate(m, &first, NULL, small), SDC_OK, "%s", sdc_last_error());
    sdc_pipeline_latent_resize(small, 4, 8, 8, big, 12, 12, 0);
    sdc_generate_params second = second_of(&p);
    sdc_pipeline_start from = {.latent = big, .img2img_steps = 3, .hires_first_steps = 5};
    cr_assert_eq(sdc_pipeline_generate_from(m, &second, &from, want, NULL), SDC_OK, "%s",
                 sdc_last_error());
    cr_expect_arr_eq(got, want, 96 * 96 * 3, "hires differs from its passes done by hand");
    /* nearest interpolation is another picture */
    p.hr_upscaler = "latent-nearest";
    cr_assert_eq(sdc_generate(m, &p, want), SDC_OK, "%s", sdc_last_error());
    cr_expect(memcmp(got, want, 96 * 96 * 3) != 0, "latent-nearest gave the bilinear picture");
    free(got);
    free(want);
    sdc_model_free(m);
}

Test(hires, lanczos_mode_is_img2img_of_the_resized_picture)
{
    sdc_model *m = demo();
    sdc_generate_params p = hires_params("lanczos");
    uint8_t *got = malloc(96 * 96 * 3), *want = malloc(96 * 96 * 3), small[64 * 64 * 3];
    cr_assert(got && want);
    cr_assert_eq(sdc_generate(m, &p, got), SDC_OK, "%s", sdc_last_error());
    sdc_generate_params first = p;
    first.hires = 0;
    cr_assert_eq(sdc_generate(m, &first, small), SDC_OK, "%s", sdc_last_error());
    sdc_image src = {64, 64, 3, small}, big;
    cr_assert_eq(sdc_image_resize_lanczos(&src, 96, 96, &big), SDC_OK);
    sdc_generate_params second = second_of(&p);
    second.init_rgb = big.pixels, second.init_width = 96, second.init_height = 96;
    sdc_pipeline_start from = {.img2img_steps = 3, .hires_first_steps = 5};
    cr_assert_eq(sdc_pipeline_generate_from(m, &second, &from, want, NULL), SDC_OK, "%s",
                 sdc_last_error());
    cr_expect_arr_eq(got, want, 96 * 96 * 3, "hires differs from its passes done by hand");
    free(big.pixels);
    free(got);
    free(want);
    sdc_model_free(m);
}

Test(hires, refused_settings)
{
    sdc_model *m = demo();
    sdc_generate_params p = hires_params("bicubic");
    uint8_t rgb[96 * 96 * 3];
    cr_expect_eq(sdc_generate(m, &p, rgb), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "bicubic"), "%s", sdc_last_error());
    p = hires_params("latent");
    p.init_rgb = rgb, p.init_width = p.init_height = 64;
    cr_expect_eq(sdc_generate(m, &p, rgb), SDC_ERR_ARG);
    p = hires_params("latent");
    p.hr_denoising = 0;
    cr_expect_eq(sdc_generate(m, &p, rgb), SDC_ERR_ARG);
    p = hires_params("latent");
    p.hr_upscale_model = m; /* not an x4 upscaler */
    cr_expect_eq(sdc_generate(m, &p, rgb), SDC_ERR_ARG);
    sdc_model_free(m);
}

/* The golden x4 upscaler as the upscaler of tiny-sd1: the picture goes through it (4x),
 * then Lanczos to the hires size, then the img2img pass. */
Test(hires, x4_model_upscales_the_first_pass)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = golden_path("models/tiny-sd1/model.safetensors");
    mp.vocab_path = vocab_path();
    sdc_model *m, *x4;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    mp.model_path = golden_path("models/tiny-x4-upscaler/model.safetensors");
    cr_assert_eq(sdc_model_load(&mp, &x4), SDC_OK, "%s", sdc_last_error());
    sdc_generate_params p = hires_params(NULL);
    p.sampler = "ddim";
    p.hr_scale = 2.0f;
    p.hr_upscale_model = x4;
    uint8_t *got = malloc(128 * 128 * 3), *want = malloc(128 * 128 * 3), small[64 * 64 * 3];
    uint8_t *up = malloc(256 * 256 * 3);
    cr_assert(got && want && up);
    cr_assert_eq(sdc_generate(m, &p, got), SDC_OK, "%s", sdc_last_error());
    sdc_generate_params first = p;
    first.hires = 0;
    cr_assert_eq(sdc_generate(m, &first, small), SDC_OK, "%s", sdc_last_error());
    sdc_generate_params q = first;
    q.init_rgb = small, q.init_width = q.init_height = 64;
    q.width = q.height = 256;
    cr_assert_eq(sdc_generate(x4, &q, up), SDC_OK, "%s", sdc_last_error());
    sdc_image src = {256, 256, 3, up}, big;
    cr_assert_eq(sdc_image_resize_lanczos(&src, 128, 128, &big), SDC_OK);
    sdc_generate_params second = second_of(&p);
    second.width = second.height = 128;
    second.init_rgb = big.pixels, second.init_width = 128, second.init_height = 128;
    sdc_pipeline_start from = {.img2img_steps = 3, .hires_first_steps = 5};
    cr_assert_eq(sdc_pipeline_generate_from(m, &second, &from, want, NULL), SDC_OK, "%s",
                 sdc_last_error());
    cr_expect_arr_eq(got, want, 128 * 128 * 3, "hires with x4 differs from its passes");
    free(big.pixels);
    free(got), free(want), free(up);
    sdc_model_free(x4);
    sdc_model_free(m);
}

/* SDXL (golden tiny-sdxl: two text encoders, the size conditioning at each pass's size):
 * the latent mode is its passes done by hand there too. */
Test(hires, sdxl_latent_mode_is_its_passes)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = golden_path("models/tiny-sdxl/model.safetensors");
    mp.vocab_path = vocab_path();
    sdc_model *m;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    sdc_generate_params p = hires_params("latent");
    uint8_t *got = malloc(96 * 96 * 3), *want = malloc(96 * 96 * 3);
    float small[4 * 8 * 8], big[4 * 12 * 12];
    cr_assert(got && want);
    cr_assert_eq(sdc_generate(m, &p, got), SDC_OK, "%s", sdc_last_error());
    sdc_generate_params first = p;
    first.hires = 0;
    cr_assert_eq(sdc_pipeline_generate(m, &first, NULL, small), SDC_OK, "%s", sdc_last_error());
    sdc_pipeline_latent_resize(small, 4, 8, 8, big, 12, 12, 0);
    sdc_generate_params second = second_of(&p);
    sdc_pipeline_start from = {.latent = big, .img2img_steps = 3, .hires_first_steps = 5};
    cr_assert_eq(sdc_pipeline_generate_from(m, &second, &from, want, NULL), SDC_OK, "%s",
                 sdc_last_error());
    cr_expect_arr_eq(got, want, 96 * 96 * 3, "SDXL hires differs from its passes by hand");
    free(got);
    free(want);
    sdc_model_free(m);
}
