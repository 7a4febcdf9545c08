/* Recipes: the sampling settings a distilled checkpoint is made for, and how a checkpoint
 * says it is one (docs/fast.md). */
#include <ctype.h>
#include <string.h>

#include "ops/names.h"
#include "pipeline/pipeline_impl.h"
#include "pipeline/recipe.h"

typedef struct recipe_row {
    sdc_name_row names;
    int steps; /* 0: the settings of sdc_generate_default_params() */
    float cfg_scale;
    const char *sampler;
    const char *scheduler; /* NULL: the sampler's own */
} recipe_row;

/* Turbo (adversarial diffusion distillation) is trained to denoise from the last
 * timestep in one step, hence trailing timesteps; LCM's sampler takes its own spacing. */
static const recipe_row recipe_rows[SDC_RECIPE_COUNT] = {
    {{"standard", NULL, "Standard", "20 steps, CFG 7, Euler a (the defaults)"},
     0, 0, NULL, NULL},
    {{"turbo", NULL, "Turbo", "SD-Turbo, SDXL-Turbo: 1 step, CFG 1, Euler a, trailing"},
     1, 1.0f, "euler_a", "trailing"},
    {{"lcm", NULL, "LCM", "latent consistency models and LCM-LoRAs: 4 steps, CFG 1, LCM"},
     4, 1.0f, "lcm", NULL},
};

SDC_NAME_TABLE_API(sdc_recipe, recipe_rows)

void sdc_recipe_apply(sdc_recipe recipe, sdc_generate_params *p)
{
    if ((int)recipe < 0 || recipe >= SDC_RECIPE_COUNT)
        recipe = SDC_RECIPE_STANDARD;
    const recipe_row *r = &recipe_rows[recipe];
    if (!r->steps) {
        sdc_generate_params d = sdc_generate_default_params();
        p->steps = d.steps;
        p->cfg_scale = d.cfg_scale;
        p->sampler = d.sampler;
        p->scheduler = d.scheduler;
        return;
    }
    p->steps = r->steps;
    p->cfg_scale = r->cfg_scale;
    p->sampler = r->sampler;
    p->scheduler = r->scheduler;
}

int sdc_recipe_has_word(const char *text, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++) {
        if (i > 0 && isalpha((unsigned char)text[i - 1]))
            continue;
        size_t k = 0;
        while (k < w && tolower((unsigned char)text[i + k]) == word[k])
            k++;
        if (k == w && (i + w == n || !isalpha((unsigned char)text[i + w])))
            return 1;
    }
    return 0;
}

static int has_word(const char *text, const char *word)
{
    return sdc_recipe_has_word(text, strlen(text), word);
}

static sdc_recipe recipe_in_text(const char *text)
{
    if (!text)
        return SDC_RECIPE_STANDARD;
    if (has_word(text, "turbo"))
        return SDC_RECIPE_TURBO;
    return has_word(text, "lcm") ? SDC_RECIPE_LCM : SDC_RECIPE_STANDARD;
}

/* The last component of a path, without a trailing slash ("models/sd-turbo/" ->
 * "sd-turbo/"; has_word stops at the slash). */
static const char *base_name(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    const char *base = path;
    for (size_t i = 0; i + 1 < n; i++)
        if (path[i] == '/')
            base = path + i + 1;
    return base;
}

static sdc_recipe checkpoint_recipe(const sdc_checkpoint *ck, const char *path,
                                    const char **source)
{
    const char *where = "none";
    sdc_recipe r = SDC_RECIPE_STANDARD;
    const char *scheduler = sdc_checkpoint_scheduler_class(ck);
    if (scheduler && strcmp(scheduler, "LCMScheduler") == 0) {
        r = SDC_RECIPE_LCM;
        where = "scheduler config";
    } else if ((r = recipe_in_text(sdc_checkpoint_title(ck))) != SDC_RECIPE_STANDARD) {
        where = "file metadata";
    } else if ((r = recipe_in_text(base_name(path))) != SDC_RECIPE_STANDARD) {
        where = "file name";
    }
    if (source)
        *source = where;
    return r;
}

sdc_recipe sdc_model_recipe(const sdc_model *m, const char **source)
{
    return checkpoint_recipe(m->ck, m->path, source);
}

sdc_status sdc_model_file_recipe(const char *path, sdc_recipe *recipe, const char **source)
{
    sdc_checkpoint *ck;
    sdc_status s = sdc_checkpoint_open(path, &ck);
    if (s != SDC_OK)
        return s;
    *recipe = checkpoint_recipe(ck, path, source);
    sdc_checkpoint_close(ck);
    return SDC_OK;
}
