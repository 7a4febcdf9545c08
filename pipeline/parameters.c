#include "pipeline/parameters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "pipeline/control.h"
#include "pipeline/lora_run.h"
#include "pipeline/pipeline_impl.h"

/* AUTOMATIC1111's name of a sampler given by name ("euler_a" -> "Euler a"); a name sdc
 * does not know is recorded as given. */
static const char *sampler_display(const char *sampler)
{
    const char *display = sdc_sampler_display_name(sdc_sampler_from_name(sampler));
    return display ? display : sampler;
}

/* Base name without extension, into buf. */
static void base_name(const char *path, char *buf, size_t size)
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

void sdc_parameters_file_name(const char *path, char *buf, size_t size)
{
    char raw[256];
    base_name(path, raw, sizeof raw);
    sdc_escape_controls(raw, buf, size, 0);
}

/* "Schedule type: Karras" for the schedules AUTOMATIC1111 names, NULL for the others;
 * without a scheduler, the sampler's own (DPM++ SDE runs with Karras sigmas). */
static const char *schedule_display(const char *scheduler, const char *sampler)
{
    if (scheduler)
        return sdc_scheduler_display_name(sdc_scheduler_from_name(scheduler));
    int own = sdc_sampler_default_scheduler(sdc_sampler_from_name(sampler));
    return own > 0 ? sdc_scheduler_display_name(own) : NULL;
}

/* An id outside the table has always been recorded as "NV"; that stays. */
static const char *rng_display(sdc_rng_type rng)
{
    const char *display = sdc_rng_display_name((int)rng);
    return display ? display : sdc_rng_display_name(SDC_RNG_TYPE_CUDA);
}

/* SDXL's size, crop and aesthetic conditioning where they are not the defaults. */
static void write_sdxl_conditioning(FILE *f, const sdc_generate_params *g)
{
    if (g->original_width || g->original_height)
        fprintf(f, ", Original size: %dx%d", g->original_width ? g->original_width : g->width,
                g->original_height ? g->original_height : g->height);
    if (g->crop_top || g->crop_left)
        fprintf(f, ", Crop: %d,%d", g->crop_top, g->crop_left);
    if (g->target_width || g->target_height)
        fprintf(f, ", Target size: %dx%d", g->target_width ? g->target_width : g->width,
                g->target_height ? g->target_height : g->height);
    if (g->aesthetic_score > 0)
        fprintf(f, ", Aesthetic score: %g", g->aesthetic_score);
    if (g->negative_aesthetic_score > 0)
        fprintf(f, ", Negative aesthetic score: %g", g->negative_aesthetic_score);
}

/* AUTOMATIC1111's hires-fix entries. */
static void write_hires(FILE *f, const sdc_generate_params *g)
{
    const char *up = g->hr_upscaler ? g->hr_upscaler : "latent";
    char model[256];
    if (g->hr_upscale_model)
        sdc_parameters_file_name(g->hr_upscale_model->path ? g->hr_upscale_model->path : "", model,
                   sizeof model);
    fprintf(f, ", Denoising strength: %g, Hires upscale: %g", g->hr_denoising, g->hr_scale);
    if (g->hr_steps)
        fprintf(f, ", Hires steps: %d", g->hr_steps);
    fprintf(f, ", Hires upscaler: %s",
            g->hr_upscale_model           ? model
            : strcmp(up, "lanczos") == 0 ? "Lanczos"
            : strcmp(up, "latent-nearest") == 0 ? "Latent (nearest)"
                                                : "Latent");
    if (g->hr_sampler)
        fprintf(f, ", Hires sampler: %s", sampler_display(g->hr_sampler));
}

char *sdc_parameters_text(const sdc_generate_params *g, const char *model_path,
                          const char *model_hash, const char *lora_hashes,
                          const char *ti_hashes, const char *controls)
{
    char name[256];
    sdc_parameters_file_name(model_path ? model_path : "", name, sizeof name);
    const char *neg = g->negative_prompt ? g->negative_prompt : "";
    const char *sched = schedule_display(g->scheduler, g->sampler ? g->sampler : "euler_a");
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    fprintf(f, "%s\n", g->prompt ? g->prompt : "");
    if (*neg)
        fprintf(f, "Negative prompt: %s\n", neg);
    fprintf(f, "Steps: %d, Sampler: %s, ", g->steps, sampler_display(g->sampler ? g->sampler : "euler_a"));
    if (sched)
        fprintf(f, "Schedule type: %s, ", sched);
    fprintf(f, "CFG scale: %g, Seed: %llu, Size: %dx%d, ", g->cfg_scale,
            (unsigned long long)g->seed, g->width, g->height);
    if (model_hash && *model_hash)
        fprintf(f, "Model hash: %s, ", model_hash);
    fprintf(f, "Model: %s, RNG: %s", name, rng_display(g->rng));
    if (g->clip_skip > 1)
        fprintf(f, ", Clip skip: %d", g->clip_skip);
    if (g->eta != 0)
        fprintf(f, ", Eta DDIM: %g", g->eta);
    if (!g->emphasis) /* sdc's own: diffusers' plain 75-token prompt (--no-emphasis) */
        fprintf(f, ", Prompt parsing: plain");
    if (g->unet_tile > 0) /* sdc's own, as the next: how the UNet was cut into windows */
        fprintf(f, ", UNet tiles: %d", g->unet_tile);
    else if (g->unet_tile < 0)
        fprintf(f, ", UNet tiles: off");
    if (g->init_rgb)
        fprintf(f, ", Denoising strength: %g", g->strength);
    if (g->hires && !g->init_rgb)
        write_hires(f, g);
    if (g->freeu)
        fprintf(f, ", FreeU: %g,%g,%g,%g", g->freeu_b1, g->freeu_b2, g->freeu_s1, g->freeu_s2);
    if (g->scheduler && !sched)
        fprintf(f, ", Scheduler: %s", g->scheduler);
    if (g->karras_sigmas)
        fprintf(f, ", Karras sigmas: on");
    write_sdxl_conditioning(f, g);
    if (g->refiner) {
        char refiner[256];
        sdc_parameters_file_name(g->refiner->path ? g->refiner->path : "", refiner, sizeof refiner);
        fprintf(f, ", Refiner: %s, Refiner switch at: %g", refiner, g->refiner_switch);
    }
    if (lora_hashes)
        fprintf(f, ", Lora hashes: \"%s\"", lora_hashes);
    if (ti_hashes)
        fprintf(f, ", TI hashes: \"%s\"", ti_hashes);
    if (controls)
        fputs(controls, f);
    fprintf(f, ", Version: sdc %s", SDC_VERSION);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

sdc_status sdc_generate_parameters_text(sdc_model *model, const sdc_generate_params *params,
                                        char **text)
{
    *text = NULL;
    sdc_generate_params p;
    char hash[11];
    sdc_status s = sdc_generate_params_upgrade(params, &p);
    if (s == SDC_OK)
        s = sdc_model_short_hash(model, hash);
    char *loras = NULL, *embeddings = NULL;
    if (s == SDC_OK)
        s = sdc_pipeline_lora_hashes(model, &p, &loras);
    if (s == SDC_OK)
        s = sdc_pipeline_ti_hashes(model, &p, &embeddings);
    if (s != SDC_OK) {
        free(loras);
        return s;
    }
    char *controls = sdc_pipeline_control_text(&p);
    *text = sdc_parameters_text(&p, model->path, hash, loras, embeddings, controls);
    free(controls);
    free(loras);
    free(embeddings);
    return *text ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "out of memory for the parameters text");
}
