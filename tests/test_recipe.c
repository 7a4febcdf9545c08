/* Recipes (include/sdc.h, docs/fast.md): the settings each one sets, and how a checkpoint
 * declares one — by name, by its modelspec.title metadata, by a diffusers LCMScheduler. The
 * demo model (in the source tree) stands in for a checkpoint under different names. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "golden.h"
#include "sdc.h"

Test(recipe, table_and_settings)
{
    cr_expect_eq(sdc_recipe_count(), SDC_RECIPE_COUNT);
    cr_expect_eq(sdc_recipe_from_name("turbo"), SDC_RECIPE_TURBO);
    cr_expect_eq(sdc_recipe_from_name("LCM"), SDC_RECIPE_LCM);
    cr_expect_eq(sdc_recipe_from_name("fast"), -1);

    sdc_generate_params p = sdc_generate_default_params();
    sdc_recipe_apply(SDC_RECIPE_TURBO, &p);
    cr_expect_eq(p.steps, 1);
    cr_expect_float_eq(p.cfg_scale, 1.0f, 0);
    cr_expect_str_eq(p.sampler, "euler_a");
    cr_expect_str_eq(p.scheduler, "trailing");
    sdc_recipe_apply(SDC_RECIPE_LCM, &p);
    cr_expect_eq(p.steps, 4);
    cr_expect_float_eq(p.cfg_scale, 1.0f, 0);
    cr_expect_str_eq(p.sampler, "lcm");
    cr_expect_null(p.scheduler, "LCM takes its own timestep spacing");
    sdc_recipe_apply(SDC_RECIPE_STANDARD, &p);
    sdc_generate_params d = sdc_generate_default_params();
    cr_expect_eq(p.steps, d.steps);
    cr_expect_float_eq(p.cfg_scale, d.cfg_scale, 0);
    cr_expect_str_eq(p.sampler, d.sampler);
    cr_expect_eq(p.scheduler, d.scheduler);
}

/* A fresh folder under the build tree holding the demo model's tokenizer files. */
static const char *model_dir(const char *name)
{
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/recipe-test-%s", getenv("SDC_BUILD_DIR"), name);
    mkdir(dir, 0755);
    static const char *files[] = {"vocab.json", "merges.txt", "special_tokens_map.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char link[1100], rel[64];
        snprintf(link, sizeof link, "%s/%s", dir, files[i]);
        snprintf(rel, sizeof rel, "models/demo/%s", files[i]);
        unlink(link);
        cr_assert_eq(symlink(source_path(rel), link), 0, "symlink %s", link);
    }
    return dir;
}

static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(*size);
    cr_assert(data && fread(data, 1, *size, f) == *size);
    fclose(f);
    return data;
}

/* The demo model at dir/name, with "modelspec.title" = title in its metadata when title is
 * not NULL (the header grows; tensor offsets are relative to its end and stay valid). */
static void write_demo_copy(const char *dir, const char *name, const char *title)
{
    size_t size;
    char *data = read_file(source_path("models/demo/model.safetensors"), &size);
    uint64_t header = 0;
    memcpy(&header, data, 8); /* little-endian, as on every machine sdc runs on */
    static const char meta[] = "{\"__metadata__\":{";
    cr_assert(header + 8 <= size && memcmp(data + 8, meta, strlen(meta)) == 0,
              "the demo model's header no longer starts with its metadata");
    size_t keep = 8 + strlen(meta); /* the entry goes first in the metadata object */
    char extra[256] = "";
    if (title)
        snprintf(extra, sizeof extra, "\"modelspec.title\":\"%s\",", title);
    uint64_t grown = header + strlen(extra);
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert(fwrite(&grown, 8, 1, f) == 1 && fwrite(data + 8, 1, keep - 8, f) == keep - 8 &&
              fwrite(extra, 1, strlen(extra), f) == strlen(extra) &&
              fwrite(data + keep, 1, size - keep, f) == size - keep);
    fclose(f);
    free(data);
}

static sdc_recipe recipe_of(const char *dir, const char *name, const char **source)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = path;
    sdc_model *m;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s: %s", path, sdc_last_error());
    sdc_recipe r = sdc_model_recipe(m, source);
    sdc_recipe from_file;
    const char *file_source;
    cr_assert_eq(sdc_model_file_recipe(path, &from_file, &file_source), SDC_OK);
    cr_expect_eq(from_file, r, "%s: the file's recipe differs from the model's", name);
    cr_expect_str_eq(file_source, *source);
    sdc_model_free(m);
    return r;
}

Test(recipe, from_the_file_name)
{
    static const struct {
        const char *name;
        sdc_recipe recipe;
    } cases[] = {
        {"sd_xl_turbo_1.0_fp16.safetensors", SDC_RECIPE_TURBO},
        {"SD-Turbo.safetensors", SDC_RECIPE_TURBO},
        {"LCM_Dreamshaper_v7.safetensors", SDC_RECIPE_LCM},
        {"dreamshaper-lcm.safetensors", SDC_RECIPE_LCM},
        {"turbocharged.safetensors", SDC_RECIPE_STANDARD}, /* not the word */
        {"clcmx.safetensors", SDC_RECIPE_STANDARD},
        {"v1-5-pruned.safetensors", SDC_RECIPE_STANDARD},
    };
    const char *dir = model_dir("names");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_demo_copy(dir, cases[i].name, NULL);
        const char *source;
        sdc_recipe r = recipe_of(dir, cases[i].name, &source);
        cr_expect_eq(r, cases[i].recipe, "%s: recipe %s", cases[i].name, sdc_recipe_name(r));
        cr_expect_str_eq(source, r == SDC_RECIPE_STANDARD ? "none" : "file name");
    }
}

Test(recipe, from_the_metadata_title)
{
    const char *dir = model_dir("title");
    write_demo_copy(dir, "model.safetensors", "SDXL Turbo");
    const char *source;
    cr_expect_eq(recipe_of(dir, "model.safetensors", &source), SDC_RECIPE_TURBO);
    cr_expect_str_eq(source, "file metadata");
    write_demo_copy(dir, "model.safetensors", "Stable Diffusion v1.5");
    cr_expect_eq(recipe_of(dir, "model.safetensors", &source), SDC_RECIPE_STANDARD);
    cr_expect_str_eq(source, "none");
}

/* A diffusers folder whose scheduler is LCMScheduler: the golden tiny SD 1.x model's parts
 * linked into a folder with that scheduler config. */
Test(recipe, from_a_diffusers_lcm_scheduler)
{
    char src[1024];
    snprintf(src, sizeof src, "%s", golden_path("models/tiny-sd1/diffusers"));
    vocab_path();
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/recipe-test-lcm-diffusers", getenv("SDC_BUILD_DIR"));
    mkdir(dir, 0755);
    static const char *parts[] = {"model_index.json", "text_encoder", "tokenizer", "unet", "vae"};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        char from[1100], to[1100];
        snprintf(from, sizeof from, "%s/%s", src, parts[i]);
        snprintf(to, sizeof to, "%s/%s", dir, parts[i]);
        unlink(to);
        cr_assert_eq(symlink(from, to), 0, "symlink %s", to);
    }
    char sched[1100];
    snprintf(sched, sizeof sched, "%s/scheduler", dir);
    mkdir(sched, 0755);
    strcat(sched, "/scheduler_config.json");
    FILE *f = fopen(sched, "w");
    cr_assert_not_null(f);
    fputs("{\"_class_name\": \"LCMScheduler\", \"beta_schedule\": \"scaled_linear\", "
          "\"beta_start\": 0.00085, \"beta_end\": 0.012, \"num_train_timesteps\": 1000}\n", f);
    fclose(f);
    const char *source;
    cr_expect_eq(recipe_of(dir, "", &source), SDC_RECIPE_LCM);
    cr_expect_str_eq(source, "scheduler config");
}
