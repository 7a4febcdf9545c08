/* The public API as a program linking libsdc sees it (only sdc.h): parameter structs from an
 * older, smaller header, and PNG files written and read back with their metadata. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden.h"
#include "sdc.h"

static sdc_model_params model_params(char *path, size_t cap)
{
    snprintf(path, cap, "%s/models/tiny-sd1/model.safetensors", golden_dir());
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = path;
    return mp;
}

static sdc_model *load(void)
{
    char path[512];
    sdc_model_params mp = model_params(path, sizeof path);
    sdc_model *m = NULL;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    return m;
}

static sdc_generate_params small_params(void)
{
    sdc_generate_params p = sdc_generate_default_params();
    p.prompt = "a red apple";
    p.width = p.height = 64;
    p.steps = 2;
    p.seed = 3;
    return p;
}

Test(api, older_generate_params_get_the_defaults)
{
    sdc_model *m = load();
    sdc_generate_params full = small_params();
    uint8_t want[64 * 64 * 3], got[64 * 64 * 3];
    cr_assert_eq(sdc_generate(m, &full, want), SDC_OK, "%s", sdc_last_error());
    /* an old program knows only the sampling group: what lies after it is not read */
    sdc_generate_params old = small_params();
    old.struct_size = offsetof(sdc_generate_params, init_rgb);
    old.init_rgb = (const uint8_t *)"not pixels";
    old.init_width = old.init_height = -5;
    old.freeu = 1;
    old.freeu_b1 = 1e9f;
    cr_assert_eq(sdc_generate(m, &old, got), SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(memcmp(want, got, sizeof want), 0);
    sdc_model_free(m);
}

Test(api, too_small_struct_size_is_refused)
{
    sdc_model *m = load();
    uint8_t rgb[64 * 64 * 3];
    sdc_generate_params p = small_params();
    p.struct_size = 0;
    cr_expect_eq(sdc_generate(m, &p, rgb), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "sdc_generate_params.struct_size is 0"), "%s",
              sdc_last_error());
    p.struct_size = offsetof(sdc_generate_params, eta);
    cr_expect_eq(sdc_generate(m, &p, rgb), SDC_ERR_ARG);
    sdc_model_free(m);
}

Test(api, older_model_params_get_the_defaults)
{
    char path[512];
    sdc_model_params mp = model_params(path, sizeof path);
    mp.prediction = (sdc_prediction_override)77; /* refused when read */
    sdc_model *m = NULL;
    cr_expect_eq(sdc_model_load(&mp, &m), SDC_ERR_ARG);
    mp.struct_size = offsetof(sdc_model_params, prediction);
    cr_expect_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    sdc_model_free(m);
    mp.struct_size = offsetof(sdc_model_params, vae_path);
    cr_expect_eq(sdc_model_load(&mp, &m), SDC_ERR_ARG);
}

/* A caller built before taesd_path: whatever lies past its struct is not read as a path. */
Test(api, model_params_before_taesd_path)
{
    char path[512];
    sdc_model_params mp = model_params(path, sizeof path);
    mp.taesd_path = "/nonexistent/taesd.safetensors";
    sdc_model *m = NULL;
    cr_expect_neq(sdc_model_load(&mp, &m), SDC_OK);
    cr_expect(strstr(sdc_last_error(), mp.taesd_path), "%s", sdc_last_error());
    mp.struct_size = offsetof(sdc_model_params, taesd_path);
    cr_expect_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    sdc_model_free(m);
}

/* cpu caps the kernels: the portable ones draw the fast ones' picture within 2/255 (at a
 * size that is no multiple of 16); an unknown name is refused; a caller built before the
 * field gets the CPU's widest kernels. */
Test(api, cpu_caps_the_kernels)
{
    char path[512];
    sdc_model_params mp = model_params(path, sizeof path);
    sdc_generate_params p = small_params();
    p.width = 72;
    p.height = 40;
    static uint8_t fast[72 * 40 * 3], portable[72 * 40 * 3];
    uint8_t *out[2] = {fast, portable};
    const char *cpu[2] = {NULL, "scalar"};
    for (int i = 0; i < 2; i++) {
        sdc_model *m = NULL;
        mp.cpu = cpu[i];
        cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
        cr_assert_eq(sdc_generate(m, &p, out[i]), SDC_OK, "%s", sdc_last_error());
        sdc_model_free(m);
    }
    int worst = 0;
    for (size_t i = 0; i < sizeof fast; i++)
        worst = abs(fast[i] - portable[i]) > worst ? abs(fast[i] - portable[i]) : worst;
    cr_expect_leq(worst, 2);
    sdc_model *m = NULL;
    mp.cpu = "sse4";
    cr_expect_eq(sdc_model_load(&mp, &m), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "'sse4'"), "%s", sdc_last_error());
    mp.struct_size = offsetof(sdc_model_params, cpu);
    cr_expect_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    sdc_model_free(m);
}

/* What `sdc` writes, written by a client: pixels and metadata come back unchanged. */
Test(api, png_metadata_round_trip)
{
    sdc_model *m = load();
    sdc_generate_params p = small_params();
    p.negative_prompt = "blurry";
    uint8_t rgb[64 * 64 * 3];
    cr_assert_eq(sdc_generate(m, &p, rgb), SDC_OK, "%s", sdc_last_error());
    char *text = NULL;
    cr_assert_eq(sdc_generate_parameters_text(m, &p, &text), SDC_OK, "%s", sdc_last_error());
    cr_expect(strstr(text, "a red apple\nNegative prompt: blurry\nSteps: 2, Sampler: Euler a, "
                           "CFG scale: 7, Seed: 3, Size: 64x64, Model hash: "), "%s", text);
    char dir[] = "/tmp/sdc-test-api-XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/out.png", dir);
    cr_assert_eq(sdc_image_save(path, rgb, 64, 64, text, 0), SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(sdc_image_save(path, rgb, 64, 64, text, 0), SDC_ERR_IO); /* no overwrite */
    char *back = NULL;
    cr_assert_eq(sdc_png_read_parameters(path, &back), SDC_OK, "%s", sdc_last_error());
    cr_expect_str_eq(back, text);
    uint8_t *pixels = NULL;
    int w = 0, h = 0;
    cr_assert_eq(sdc_image_read(path, &pixels, &w, &h), SDC_OK, "%s", sdc_last_error());
    cr_expect(w == 64 && h == 64 && memcmp(pixels, rgb, sizeof rgb) == 0);
    unlink(path);
    rmdir(dir);
    free(pixels);
    free(back);
    free(text);
    sdc_model_free(m);
}
