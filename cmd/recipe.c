/* Choosing and applying the recipe of a generation (cmd/recipe.h). */
#include "cmd/recipe.h"

#include <string.h>

#include "ops/log.h"
#include "pipeline/recipe.h"

/* "lcm" as a word of s[0 .. n) ("lcm-lora-sdv1-5", "LCM_LoRA_Weights_SD15"). */
static int names_lcm(const char *s, size_t n)
{
    return sdc_recipe_has_word(s, n, "lcm");
}

/* A <lora:NAME:...> tag of the prompt whose NAME says LCM. */
static int prompt_has_lcm_lora(const char *prompt)
{
    for (const char *t = prompt; t && (t = strstr(t, "<lora:")); t++) {
        const char *name = t + 6;
        size_t n = strcspn(name, ":>");
        if (names_lcm(name, n))
            return 1;
    }
    return 0;
}

static const char *file_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The recipe for o when the model's is model_recipe (from model_source), and why. */
static sdc_recipe choose(const sdc_cli_options *o, sdc_recipe model_recipe,
                         const char *model_source, const char **why)
{
    if (o->recipe >= 0) {
        *why = "--recipe";
        return (sdc_recipe)o->recipe;
    }
    *why = model_source;
    if (model_recipe != SDC_RECIPE_STANDARD)
        return model_recipe;
    for (int i = 0; i < o->lora_count; i++) {
        const char *base = file_base(o->lora_paths[i]);
        if (names_lcm(base, strlen(base))) {
            *why = "--lora file name";
            return SDC_RECIPE_LCM;
        }
    }
    if (prompt_has_lcm_lora(o->gen.prompt)) {
        *why = "prompt's LoRA tag";
        return SDC_RECIPE_LCM;
    }
    if (o->sampler_given && o->gen.sampler && strcmp(o->gen.sampler, "lcm") == 0) {
        *why = "--sampling-method lcm";
        return SDC_RECIPE_LCM;
    }
    return SDC_RECIPE_STANDARD;
}

sdc_status sdc_cli_apply_recipe(const sdc_cli_options *o, const sdc_model *model,
                                sdc_generate_params *g)
{
    sdc_recipe model_recipe = SDC_RECIPE_STANDARD;
    const char *model_source = "none", *why;
    if (o->recipe < 0 && model)
        model_recipe = sdc_model_recipe(model, &model_source);
    else if (o->recipe < 0 && o->model) {
        sdc_status s = sdc_model_file_recipe(o->model, &model_recipe, &model_source);
        if (s != SDC_OK)
            return s;
    }
    sdc_recipe r = choose(o, model_recipe, model_source, &why);
    if (r == SDC_RECIPE_STANDARD && o->recipe < 0)
        return SDC_OK; /* nothing said: the defaults and the flags stand as parsed */
    sdc_generate_params d = *g;
    sdc_recipe_apply(r, &d);
    if (!o->steps_given)
        g->steps = d.steps;
    if (!o->cfg_given)
        g->cfg_scale = d.cfg_scale;
    if (!o->sampler_given)
        g->sampler = d.sampler;
    if (!o->scheduler_given)
        g->scheduler = d.scheduler;
    if (model)
        sdc_log(SDC_LOG_INFO, "recipe %s (%s): %d step%s, CFG %g, sampler %s, schedule %s",
                sdc_recipe_name(r), why, g->steps, g->steps == 1 ? "" : "s", g->cfg_scale,
                g->sampler, g->scheduler ? g->scheduler : "the sampler's own");
    return SDC_OK;
}
