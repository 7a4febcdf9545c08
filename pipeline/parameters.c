#include "pipeline/parameters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *display;
} sampler_display[] = {
    {"euler_a", "Euler a"}, {"euler", "Euler"},   {"heun", "Heun"}, {"dpm++2m", "DPM++ 2M"},
    {"ddim", "DDIM"},       {"ddpm", "DDPM"},     {"lcm", "LCM"},
};

const char *sdc_sampler_display_name(const char *sampler)
{
    for (size_t i = 0; i < sizeof sampler_display / sizeof *sampler_display; i++)
        if (strcmp(sampler, sampler_display[i].name) == 0)
            return sampler_display[i].display;
    return sampler;
}

/* Base name without extension, into buf. */
static void model_name(const char *path, char *buf, size_t size)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    const char *start = path;
    for (size_t i = 0; i < n; i++)
        if (path[i] == '/')
            start = path + i + 1;
    size_t len = (size_t)(path + n - start);
    const char *dot = memchr(start, '.', len);
    if (dot && dot != start)
        len = (size_t)(dot - start);
    snprintf(buf, size, "%.*s", (int)len, start);
}

static const char *schedule_display(const char *scheduler)
{
    if (!scheduler)
        return NULL;
    if (strcmp(scheduler, "karras") == 0)
        return "Karras";
    if (strcmp(scheduler, "exponential") == 0)
        return "Exponential";
    return NULL;
}

char *sdc_parameters_text(const sdc_generate_params *g, const char *model_path,
                          const char *model_hash)
{
    char name[256];
    model_name(model_path ? model_path : "", name, sizeof name);
    const char *neg = g->negative_prompt ? g->negative_prompt : "";
    const char *sched = schedule_display(g->scheduler);
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    fprintf(f, "%s\n", g->prompt ? g->prompt : "");
    if (*neg)
        fprintf(f, "Negative prompt: %s\n", neg);
    fprintf(f, "Steps: %d, Sampler: %s, ", g->steps, sdc_sampler_display_name(g->sampler));
    if (sched)
        fprintf(f, "Schedule type: %s, ", sched);
    fprintf(f, "CFG scale: %g, Seed: %llu, Size: %dx%d, ", g->cfg_scale,
            (unsigned long long)g->seed, g->width, g->height);
    if (model_hash && *model_hash)
        fprintf(f, "Model hash: %s, ", model_hash);
    fprintf(f, "Model: %s, RNG: %s", name, g->rng == SDC_RNG_TYPE_CPU ? "CPU" : "NV");
    if (g->clip_skip > 1)
        fprintf(f, ", Clip skip: %d", g->clip_skip);
    if (g->init_rgb)
        fprintf(f, ", Denoising strength: %g", g->strength);
    if (g->freeu)
        fprintf(f, ", FreeU: %g,%g,%g,%g", g->freeu_b1, g->freeu_b2, g->freeu_s1, g->freeu_s2);
    if (g->scheduler && !sched)
        fprintf(f, ", Scheduler: %s", g->scheduler);
    if (g->karras_sigmas)
        fprintf(f, ", Karras sigmas: on");
    fprintf(f, ", Version: sdc %s", SDC_VERSION);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
