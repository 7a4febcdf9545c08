/* AUTOMATIC1111's txt2img / img2img request bodies as `sdc` options: each field maps to the
 * command-line option of the same meaning and goes through sdc_cli_set, so the server
 * accepts exactly what `sdc` accepts and renders the same picture. Unknown fields are
 * ignored, as AUTOMATIC1111 does; fields naming a feature sdc lacks are refused. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd/base64.h"
#include "cmd/serve.h"

/* Most images one request may ask for (batch_size x n_iter). */
#define MAX_IMAGES 64

typedef enum kind { INT, NUM, STR, BOOL } kind;

/* A1111 field -> sdc option; `img2img` rows apply to img2img bodies only. */
static const struct field {
    const char *name, *option;
    kind kind;
    int img2img;
} fields[] = {
    {"prompt", "prompt", STR, 0},
    {"negative_prompt", "negative-prompt", STR, 0},
    {"steps", "steps", INT, 0},
    {"cfg_scale", "cfg-scale", NUM, 0},
    {"width", "width", INT, 0},
    {"height", "height", INT, 0},
    {"seed", "seed", INT, 0},
    {"eta", "eta", NUM, 0},
    {"denoising_strength", "strength", NUM, 1},
    {"mask_blur", "mask-blur", NUM, 1},
    {"inpaint_full_res_padding", "padding", INT, 1},
};

/* Features of AUTOMATIC1111 sdc does not have: refused when asked for. */
static const char *const unsupported[] = {"enable_hr", "restore_faces", "tiling"};

static int fail(char *err, size_t n, const char *field, const char *msg)
{
    snprintf(err, n, "%s: %s", field, msg);
    return 422;
}

static int is_whole(const json_t *v)
{
    return json_is_integer(v) || (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
                                  fabs(json_real_value(v)) < 1e18);
}

static int type_ok(const json_t *v, kind k)
{
    switch (k) {
    case INT: return is_whole(v);
    case NUM: return json_is_number(v);
    case STR: return json_is_string(v);
    default: return json_is_boolean(v) || (json_is_integer(v) && json_integer_value(v) >= 0 &&
                                            json_integer_value(v) <= 1);
    }
}

static const char *type_name(kind k)
{
    static const char *const names[] = {"an integer", "a number", "a string", "a boolean"};
    return names[k];
}

/* One option through the command line's parser; 0 or 422 naming the field. */
static int set(sdc_job *job, const char *field, const char *option, const char *value,
               char *err, size_t n)
{
    if (sdc_cli_set(&job->opt, option, value) != 0)
        return fail(err, n, field, sdc_last_error());
    return 0;
}

static int apply_field(sdc_job *job, const struct field *f, const json_t *v, char *err, size_t n)
{
    if (!type_ok(v, f->kind)) {
        char msg[64];
        snprintf(msg, sizeof msg, "must be %s", type_name(f->kind));
        return fail(err, n, f->name, msg);
    }
    char text[64];
    if (strcmp(f->option, "seed") == 0)
        job->opt.seed_random = 0; /* the default's -1 undone; -1 sets it again */
    if (f->kind == STR)
        return set(job, f->name, f->option, json_string_value(v), err, n);
    if (f->kind == INT)
        snprintf(text, sizeof text, "%lld", (long long)json_number_value(v));
    else
        snprintf(text, sizeof text, "%.9g", json_number_value(v));
    return set(job, f->name, f->option, text, err, n);
}

/* A sampler by sdc name, alias or A1111 name ("DPM++ 2M"); an old-style "DPM++ 2M Karras"
 * also selects the Karras schedule. Returns the index or -1. */
static int find_in(const char *name, int (*from_name)(const char *), const char *(*display)(int),
                   int count)
{
    int i = from_name(name);
    for (int k = 0; i < 0 && k < count; k++)
        if (display(k) && strcasecmp(display(k), name) == 0)
            i = k;
    return i;
}

static int apply_sampler(sdc_job *job, const json_t *v, char *err, size_t n)
{
    if (!json_is_string(v))
        return fail(err, n, "sampler_name", "must be a string");
    const char *name = json_string_value(v);
    int i = find_in(name, sdc_sampler_from_name, sdc_sampler_display_name, sdc_sampler_count());
    size_t len = strlen(name);
    if (i < 0 && len > 7 && len < 128 && strcasecmp(name + len - 7, " Karras") == 0) {
        char base[128];
        snprintf(base, sizeof base, "%.*s", (int)(len - 7), name);
        i = find_in(base, sdc_sampler_from_name, sdc_sampler_display_name, sdc_sampler_count());
        if (i >= 0 && set(job, "sampler_name", "scheduler", "karras", err, n))
            return 422;
    }
    if (i < 0) {
        char choices[512], msg[640];
        sdc_names_join(sdc_sampler_name, choices, sizeof choices);
        snprintf(msg, sizeof msg, "unknown sampler '%.64s'; choose one of %s", name, choices);
        return fail(err, n, "sampler_name", msg);
    }
    return set(job, "sampler_name", "sampling-method", sdc_sampler_name(i), err, n);
}

static int apply_scheduler(sdc_job *job, const json_t *v, char *err, size_t n)
{
    if (!json_is_string(v))
        return fail(err, n, "scheduler", "must be a string");
    const char *name = json_string_value(v);
    if (strcasecmp(name, "automatic") == 0) /* A1111's "the sampler's own" */
        name = "default";
    int i = find_in(name, sdc_scheduler_from_name, sdc_scheduler_display_name,
                    sdc_scheduler_count());
    return set(job, "scheduler", "scheduler", i >= 0 ? sdc_scheduler_name(i) : name, err, n);
}

/* batch_size x n_iter images, seeds seed, seed + 1, ... as AUTOMATIC1111 numbers them. */
static int apply_counts(sdc_job *job, const json_t *root, char *err, size_t n)
{
    long long counts[2] = {1, 1};
    const char *names[2] = {"batch_size", "n_iter"};
    for (int k = 0; k < 2; k++) {
        const json_t *v = json_object_get(root, names[k]);
        if (!v || json_is_null(v))
            continue;
        if (!is_whole(v) || json_number_value(v) < 1 || json_number_value(v) > MAX_IMAGES)
            return fail(err, n, names[k], "must be an integer from 1 to 64");
        counts[k] = (long long)json_number_value(v);
    }
    if (counts[0] * counts[1] > MAX_IMAGES)
        return fail(err, n, "batch_size", "batch_size x n_iter is above 64 images");
    job->count = (int)(counts[0] * counts[1]);
    return 0;
}

static int apply_flag(sdc_job *job, const json_t *root, const char *field, const char *option,
                      const char *on, const char *off, char *err, size_t n)
{
    const json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v))
        return 0;
    if (!type_ok(v, BOOL))
        return fail(err, n, field, "must be a boolean (or 0 / 1)");
    int yes = json_is_true(v) || (json_is_integer(v) && json_integer_value(v) == 1);
    return set(job, field, option, yes ? on : off, err, n);
}

int sdc_serve_upload(sdc_server *srv, const char *field, const json_t *value, char **path,
                     char *err, size_t n)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    if (!json_is_string(value) || sdc_base64_decode(json_string_value(value), &bytes, &size))
        return fail(err, n, field, "must be a base64-encoded picture");
    char name[128];
    snprintf(name, sizeof name, "%s/upload-%llu", srv->tmpdir,
             (unsigned long long)atomic_fetch_add(&srv->tmp_counter, 1));
    int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0600);
    int ok = fd >= 0 && write(fd, bytes, size) == (ssize_t)size;
    if (fd >= 0)
        close(fd);
    free(bytes);
    uint8_t *rgb = NULL;
    int w, h;
    if (!ok || sdc_image_read(name, &rgb, &w, &h) != SDC_OK) {
        unlink(name);
        return fail(err, n, field, ok ? "not a readable PNG, JPEG or BMP picture (or too large)"
                                      : "cannot store the picture");
    }
    free(rgb);
    *path = strdup(name);
    if (!*path)
        unlink(name);
    return *path ? 0 : fail(err, n, field, "out of memory");
}

/* init_images[0] and mask as temporary files for -i and --mask. */
static int apply_pictures(sdc_server *srv, sdc_job *job, const json_t *root, char *err, size_t n)
{
    const json_t *init = json_object_get(root, "init_images");
    if (!json_is_array(init) || json_array_size(init) < 1)
        return fail(err, n, "init_images", "must be a list of base64 pictures");
    int rc = sdc_serve_upload(srv, "init_images[0]", json_array_get(init, 0), &job->files[0], err, n);
    if (rc || set(job, "init_images", "init-img", job->files[0], err, n))
        return 422;
    const json_t *mask = json_object_get(root, "mask");
    if (mask && !json_is_null(mask)) {
        rc = sdc_serve_upload(srv, "mask", mask, &job->files[1], err, n);
        if (rc || set(job, "mask", "mask", job->files[1], err, n))
            return 422;
        const json_t *fill = json_object_get(root, "inpainting_fill");
        if (fill && !json_is_null(fill) && !(json_is_integer(fill) && json_integer_value(fill) == 1))
            return fail(err, n, "inpainting_fill", "sdc inpaints from the original picture: only "
                        "1 (original) is supported");
    }
    if (apply_flag(job, root, "inpainting_mask_invert", "invert-mask", "true", "false", err, n))
        return 422;
    return apply_flag(job, root, "inpaint_full_res", "inpaint-area", "masked", "whole", err, n);
}

/* override_settings: the checkpoint and CLIP skip of this request. */
static int apply_overrides(sdc_server *srv, sdc_job *job, const json_t *root, char *err, size_t n)
{
    const json_t *o = json_object_get(root, "override_settings");
    if (!o || json_is_null(o))
        return 0;
    if (!json_is_object(o))
        return fail(err, n, "override_settings", "must be an object");
    const json_t *ck = json_object_get(o, "sd_model_checkpoint");
    if (ck && !json_is_string(ck))
        return fail(err, n, "override_settings.sd_model_checkpoint", "must be a string");
    if (ck && !(job->checkpoint = sdc_serve_model_resolve(srv, json_string_value(ck))))
        return fail(err, n, "override_settings.sd_model_checkpoint",
                    "no such model (see /sdapi/v1/sd-models)");
    const json_t *skip = json_object_get(o, "CLIP_stop_at_last_layers");
    if (skip && !is_whole(skip))
        return fail(err, n, "override_settings.CLIP_stop_at_last_layers", "must be an integer");
    if (skip) {
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)json_number_value(skip));
        return set(job, "override_settings.CLIP_stop_at_last_layers", "clip-skip", text, err, n);
    }
    return 0;
}

/* AUTOMATIC1111's API defaults where they differ from the command line's, and the server's
 * --embd-dir as `sdc --embd-dir` takes it. */
static void a1111_defaults(const sdc_server *srv, sdc_job *job)
{
    if (srv->embd_dir)
        sdc_cli_set(&job->opt, "embd-dir", srv->embd_dir);
    sdc_cli_set(&job->opt, "steps", "50");
    sdc_cli_set(&job->opt, "sampling-method", "euler");
    sdc_cli_set(&job->opt, "seed", "-1");
    job->opt.gen.prompt = "";
    job->opt.gen.negative_prompt = "";
    job->opt.gen.width = job->opt.gen.height = 512;
}

static int apply_all(sdc_server *srv, sdc_job *job, const json_t *root, int img2img,
                     char *err, size_t n)
{
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
        if (json_is_true(json_object_get(root, unsupported[i])))
            return fail(err, n, unsupported[i], "not supported by sdc");
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const json_t *v = json_object_get(root, fields[i].name);
        if (v && !json_is_null(v) && (img2img || !fields[i].img2img) &&
            apply_field(job, &fields[i], v, err, n))
            return 422;
    }
    const json_t *v;
    if ((v = json_object_get(root, "sampler_name")) && !json_is_null(v) && apply_sampler(job, v, err, n))
        return 422;
    if ((v = json_object_get(root, "scheduler")) && !json_is_null(v) && apply_scheduler(job, v, err, n))
        return 422;
    if ((v = json_object_get(root, "send_images")) && !json_is_boolean(v))
        return fail(err, n, "send_images", "must be a boolean");
    job->send_images = !json_is_false(v);
    if (apply_counts(job, root, err, n) || apply_overrides(srv, job, root, err, n))
        return 422;
    return img2img ? apply_pictures(srv, job, root, err, n) : 0;
}

/* The size checks: --max-pixels, and the command line's own (a mask needs a picture ...). */
static int check(const sdc_server *srv, sdc_job *job, const json_t *root, char *err, size_t n)
{
    const sdc_generate_params *g = &job->opt.gen;
    if ((uint64_t)g->width * (uint64_t)g->height > srv->max_pixels) {
        char msg[128];
        snprintf(msg, sizeof msg, "%dx%d is above the server's --max-pixels %llu", g->width,
                 g->height, (unsigned long long)srv->max_pixels);
        return fail(err, n, "width", msg);
    }
    if (sdc_cli_check(&job->opt) != 0)
        return fail(err, n, "request", sdc_last_error());
    (void)root;
    return 0;
}

int sdc_serve_request_parse(sdc_server *srv, const char *body, size_t size, int img2img,
                            sdc_job **out, char *err, size_t n)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, size, 0, &jerr);
    if (!root || !json_is_object(root)) {
        if (root)
            snprintf(err, n, "body: must be a JSON object");
        else
            snprintf(err, n, "body: invalid JSON at line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        json_decref(root);
        return 422;
    }
    sdc_job *job = sdc_job_new(SDC_JOB_GENERATE);
    if (!job) {
        json_decref(root);
        snprintf(err, n, "out of memory");
        return 500;
    }
    job->request = root; /* from here the job owns it, and the strings opt points at */
    job->opt.width_given = job->opt.height_given = 0;
    a1111_defaults(srv, job); /* img2img without width / height: the picture's size */
    int rc = apply_all(srv, job, root, img2img, err, n);
    if (!rc)
        rc = check(srv, job, root, err, n);
    if (rc) {
        sdc_job_free(job);
        return rc;
    }
    *out = job;
    return 0;
}
