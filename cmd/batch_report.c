#include "cmd/batch_report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sdc_batch_timings_add(sdc_batch_timings *t, const char *stage, double seconds)
{
    int i = 0;
    while (i < t->stages && strcmp(t->stage_name[i], stage) != 0)
        i++;
    if (i == t->stages) {
        if (t->stages == SDC_BATCH_STAGES)
            i = SDC_BATCH_STAGES - 1; /* more stages than expected: pool the rest */
        else
            snprintf(t->stage_name[t->stages++], sizeof t->stage_name[0], "%s", stage);
    }
    t->stage_seconds[i] += seconds;
}

double sdc_batch_timings_get(const sdc_batch_timings *t, const char *stage)
{
    for (int i = 0; i < t->stages; i++)
        if (strcmp(t->stage_name[i], stage) == 0)
            return t->stage_seconds[i];
    return 0;
}

/* A float option as the shortest decimal that reads back as the same float (7.5, not
 * 7.5000000000000000). */
static json_t *real(float v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", v);
    return json_real(strtod(buf, NULL));
}

/* Seeds beyond JSON's safe integers stay exact as strings. */
static json_t *seed_json(uint64_t seed)
{
    if (seed <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)seed);
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)seed);
    return json_string(buf);
}

/* Timings to the millisecond. */
static json_t *seconds(double t) { return json_real(round(t * 1000) / 1000); }

static void set(json_t *obj, const char *key, json_t *value) { json_object_set_new(obj, key, value); }

static void set_string(json_t *obj, const char *key, const char *value)
{
    if (value)
        set(obj, key, json_string(value));
}

static void add_image_params(json_t *o, const sdc_cli_options *c)
{
    const sdc_generate_params *g = &c->gen;
    set_string(o, "init-img", c->init_img);
    if (c->init_img)
        set(o, "strength", real(g->strength));
    set_string(o, "mask", c->mask);
    set_string(o, "depth-map", c->depth_map);
    if (c->mask) {
        set(o, "mask-blur", real(c->mask_blur));
        if (c->invert_mask)
            set(o, "invert-mask", json_true());
    }
    if (g->inpaint_area == SDC_INPAINT_MASKED) {
        set_string(o, "inpaint-area", "masked");
        set(o, "padding", json_integer(g->inpaint_padding));
    }
    if (c->outpaint[0] || c->outpaint[1] || c->outpaint[2] || c->outpaint[3]) {
        char borders[64];
        snprintf(borders, sizeof borders, "%d,%d,%d,%d", c->outpaint[0], c->outpaint[1],
                 c->outpaint[2], c->outpaint[3]);
        set_string(o, "outpaint", borders);
        set_string(o, "outpaint-fill", c->outpaint_noise ? "noise" : "edge");
    }
}

static void add_model_params(json_t *o, const sdc_cli_options *c)
{
    set_string(o, "model", c->model);
    set_string(o, "vae", c->vae);
    set_string(o, "taesd", c->taesd);
    if (c->taesd_preview_only)
        set(o, "taesd-preview-only", json_true());
    set_string(o, "vocab", c->vocab);
    set_string(o, "refiner", c->refiner);
    if (c->refiner)
        set(o, "refiner-switch", real(c->gen.refiner_switch));
    if (c->prediction != SDC_PREDICTION_AUTO)
        set_string(o, "prediction", sdc_prediction_name((int)c->prediction));
}

/* SDXL's size / crop / aesthetic conditioning, in the job file's option spelling. */
static void add_sdxl_params(json_t *o, const sdc_generate_params *g)
{
    char pair[64];
    if (g->original_width || g->original_height) {
        snprintf(pair, sizeof pair, "%d,%d", g->original_width ? g->original_width : g->width,
                 g->original_height ? g->original_height : g->height);
        set_string(o, "original-size", pair);
    }
    if (g->target_width || g->target_height) {
        snprintf(pair, sizeof pair, "%d,%d", g->target_width ? g->target_width : g->width,
                 g->target_height ? g->target_height : g->height);
        set_string(o, "target-size", pair);
    }
    if (g->crop_top || g->crop_left) {
        snprintf(pair, sizeof pair, "%d,%d", g->crop_top, g->crop_left);
        set_string(o, "crop", pair);
    }
    if (g->aesthetic_score > 0)
        set(o, "aesthetic-score", real(g->aesthetic_score));
    if (g->negative_aesthetic_score > 0)
        set(o, "negative-aesthetic-score", real(g->negative_aesthetic_score));
}

json_t *sdc_batch_params_json(const sdc_cli_options *c, uint64_t seed)
{
    const sdc_generate_params *g = &c->gen;
    json_t *o = json_object();
    if (!o)
        return NULL;
    set_string(o, "prompt", g->prompt ? g->prompt : "");
    if (g->negative_prompt && *g->negative_prompt)
        set_string(o, "negative-prompt", g->negative_prompt);
    set(o, "seed", seed_json(seed));
    if (c->width_given || !c->init_img) /* else the init image's size */
        set(o, "width", json_integer(g->width));
    if (c->height_given || !c->init_img)
        set(o, "height", json_integer(g->height));
    set(o, "steps", json_integer(g->steps));
    set(o, "cfg-scale", real(g->cfg_scale));
    set_string(o, "sampling-method", g->sampler);
    set_string(o, "scheduler", g->scheduler);
    if (g->karras_sigmas)
        set(o, "karras-sigmas", json_true());
    set_string(o, "rng", sdc_rng_name((int)g->rng));
    if (g->clip_skip > 0)
        set(o, "clip-skip", json_integer(g->clip_skip));
    if (g->eta != 0)
        set(o, "eta", real(g->eta));
    if (!g->emphasis)
        set(o, "no-emphasis", json_true());
    if (g->vae_tiling > 0)
        set(o, "vae-tiling", json_true());
    else if (g->vae_tiling == 0)
        set(o, "no-vae-tiling", json_true());
    if (g->freeu) {
        json_t *f = json_array();
        json_array_append_new(f, real(g->freeu_b1));
        json_array_append_new(f, real(g->freeu_b2));
        json_array_append_new(f, real(g->freeu_s1));
        json_array_append_new(f, real(g->freeu_s2));
        set(o, "freeu", f);
    }
    add_sdxl_params(o, g);
    add_image_params(o, c);
    add_model_params(o, c);
    return o;
}

static json_t *timings_json(const sdc_batch_timings *t)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (t->model_load > 0)
        set(o, "model_load", seconds(t->model_load));
    for (int i = 0; i < t->stages; i++)
        set(o, t->stage_name[i], seconds(t->stage_seconds[i]));
    set(o, "generate", seconds(t->generate));
    set(o, "write", seconds(t->write));
    set(o, "total", seconds(t->total));
    return o;
}

json_t *sdc_batch_record_json(const sdc_batch_record *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    set(o, "job", json_integer(r->job->index));
    set(o, "line", json_integer(r->job->line));
    if (r->image >= 0)
        set(o, "image", json_integer(r->image));
    set_string(o, "status", r->status);
    set_string(o, "output", r->output);
    set_string(o, "error", r->error);
    set_string(o, "redone", r->redone);
    if (r->image >= 0) {
        set(o, "seed", seed_json(r->seed));
        set(o, "parameters", sdc_batch_params_json(&r->job->opt, r->seed));
    }
    if (r->timings)
        set(o, "timings", timings_json(r->timings));
    return o;
}

json_t *sdc_batch_summary_json(const sdc_batch_summary *s)
{
    json_t *o = json_object();
    json_t *line = json_object();
    if (!o || !line) {
        json_decref(o);
        json_decref(line);
        return NULL;
    }
    set(o, "jobs", json_integer(s->jobs));
    set(o, "images", json_integer(s->images));
    set(o, "done", json_integer(s->done));
    set(o, "skipped", json_integer(s->skipped));
    set(o, "failed", json_integer(s->failed));
    set(o, "model_loads", json_integer(s->model_loads));
    set(o, "seconds", seconds(s->seconds));
    set(o, "images_per_minute", seconds(s->seconds > 0 ? s->done * 60.0 / s->seconds : 0));
    if (s->shards > 1) {
        char shard[32];
        snprintf(shard, sizeof shard, "%d/%d", s->shard, s->shards);
        set_string(o, "shard", shard);
    }
    if (s->interrupted)
        set(o, "interrupted", json_true());
    set(line, "summary", o);
    return line;
}

/* One write() per record where it can; a short write is undone with ftruncate (files; a
 * pipe or terminal has nothing to undo). */
static int write_whole(int fd, const char *text, size_t n)
{
    off_t start = lseek(fd, 0, SEEK_CUR);
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int err = w < 0 ? errno : EIO;
            if (start >= 0 && ftruncate(fd, start) == 0)
                lseek(fd, start, SEEK_SET);
            errno = err;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

int sdc_batch_report_line(FILE *f, json_t *line)
{
    /* 15 digits print floats made by real() as typed (7.5, 0.1) */
    char *text = line ? json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(line);
    if (!text) {
        errno = ENOMEM;
        return -1;
    }
    size_t n = strlen(text);
    text[n] = '\n'; /* the terminator is not needed by write() */
    int fd = fflush(f) == 0 ? fileno(f) : -2;
    int rc = fd >= 0 ? write_whole(fd, text, n + 1) /* a memory stream has no descriptor */
             : fd == -1 && fwrite(text, 1, n + 1, f) == n + 1 && fflush(f) == 0 ? 0 : -1;
    free(text);
    return rc;
}
