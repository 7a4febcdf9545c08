#include "cmd/batch_run.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/inputs.h"
#include "cmd/progress.h"
#include "cmd/batch_stale.h"
#include "cmd/render.h"
#include "ops/error.h"

void sdc_batch_run_init(sdc_batch_run *r, const char *job_file, int quiet, int total_images)
{
    memset(r, 0, sizeof *r);
    r->job_file = strcmp(job_file, "-") == 0 ? "stdin" : job_file;
    sdc_batch_progress_init(&r->progress, quiet, total_images);
}

void sdc_batch_run_free(sdc_batch_run *r)
{
    sdc_model_free(r->model);
    sdc_model_free(r->refiner);
    sdc_model_free(r->hr_model);
    free(r->failed_error);
    for (int i = 0; i < r->grid_count; i++) {
        json_decref(r->grid[i].params);
        free((char *)r->grid[i].path);
    }
    free(r->grid);
    memset(r, 0, sizeof *r);
}

/* Whether the last failure (errno, or the message it left) says the disk is full: no later
 * image can be written either, so the run stops at once instead of failing each one. */
static int no_space(int err, const char *message)
{
    if (err == ENOSPC || err == EDQUOT)
        return 1;
    return message && (strstr(message, strerror(ENOSPC)) || strstr(message, strerror(EDQUOT)));
}

static void report(sdc_batch_run *r, const sdc_batch_record *rec)
{
    if (!r->report || r->report_failed)
        return;
    if (sdc_batch_report_line(r->report, sdc_batch_record_json(rec)) != 0) {
        r->report_failed = 1;
        r->disk_full |= no_space(errno, NULL);
        sdc_batch_progress_message(&r->progress, "sdc batch: %s: cannot write the report: %s",
                                   r->report_path, strerror(errno));
    }
}

/* Prints "jobs.jsonl:7: message" and reports the failure. */
static void fail(sdc_batch_run *r, const sdc_batch_job *job, int image, const char *error,
                 const sdc_batch_timings *t)
{
    sdc_batch_progress_message(&r->progress, "%s:%d: %s", r->job_file, job->line, error);
    const char *output = image >= 0 ? job->outputs[image] : NULL;
    uint64_t seed = job->opt.gen.seed + (uint64_t)(image > 0 ? image : 0);
    sdc_batch_record rec = {job, image, "failed", output, seed, error, t, NULL};
    report(r, &rec);
    r->summary.failed++;
}

void sdc_batch_run_bad_job(sdc_batch_run *r, const sdc_batch_job *job)
{
    fail(r, job, -1, job->error, NULL);
}

static int same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether two jobs need the same loaded model. */
static int same_model(const sdc_cli_options *a, const sdc_cli_options *b)
{
    return same_string(a->model, b->model) && same_string(a->vae, b->vae) &&
           same_string(a->taesd, b->taesd) && a->taesd_preview_only == b->taesd_preview_only &&
           same_string(a->vocab, b->vocab) && same_string(a->refiner, b->refiner) &&
           same_string(a->hr_model, b->hr_model) &&
           a->prediction == b->prediction && a->threads == b->threads && a->bf16 == b->bf16 &&
           a->int8 == b->int8 && same_string(a->conv_type, b->conv_type) &&
           same_string(a->cpu, b->cpu);
}

/* Makes the job's model the loaded one: frees the previous model first, so at most one is
 * in memory. A model that failed to load is not tried again for the following jobs. */
static sdc_status ensure_model(sdc_batch_run *r, const sdc_cli_options *o)
{
    if (r->model && same_model(r->model_opt, o))
        return SDC_OK;
    if (r->failed_opt && same_model(r->failed_opt, o))
        return sdc_fail(SDC_ERR_IO, "%s", r->failed_error);
    sdc_model_free(r->model);
    sdc_model_free(r->refiner);
    sdc_model_free(r->hr_model);
    r->model = r->refiner = r->hr_model = NULL;
    sdc_model_params mp = sdc_cli_model_params(o, o->model);
    sdc_model_params rp = sdc_cli_model_params(o, o->refiner);
    sdc_model_params hp = sdc_cli_model_params(o, o->hr_model);
    double t0 = sdc_now_seconds();
    sdc_status s = sdc_model_load(&mp, &r->model);
    if (s == SDC_OK && o->refiner)
        s = sdc_model_load(&rp, &r->refiner);
    if (s == SDC_OK && o->hr_model)
        s = sdc_model_load(&hp, &r->hr_model);
    if (s == SDC_OK)
        s = sdc_model_short_hash(r->model, r->model_hash);
    if (s != SDC_OK) {
        sdc_model_free(r->model);
        sdc_model_free(r->refiner);
        sdc_model_free(r->hr_model);
        r->model = r->refiner = r->hr_model = NULL;
        free(r->failed_error);
        r->failed_error = strdup(sdc_last_error());
        r->failed_opt = r->failed_error ? o : NULL;
        return s;
    }
    r->model_opt = o;
    r->unreported_load = sdc_now_seconds() - t0;
    r->summary.model_loads++;
    if (r->verbose)
        sdc_batch_progress_message(&r->progress, "loaded %s (%s) in %.2fs", o->model,
                                   sdc_model_family_name(r->model), r->unreported_load);
    return SDC_OK;
}

/* A finished output: the whole file decodes (libpng checks every chunk's CRC to IEND). */
static int complete(const char *path)
{
    if (access(path, F_OK) != 0)
        return 0;
    uint8_t *rgb;
    int width, height;
    int ok = sdc_image_read(path, &rgb, &width, &height) == SDC_OK;
    free(rgb);
    return ok;
}

/* Temporaries of `path` ("path.tmp-XXXXXX") left by a run that was killed mid-write. */
static void remove_stale_temporaries(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path + 1)) : strdup("./");
    const char *base = slash ? slash + 1 : path;
    DIR *d = dir ? opendir(dir) : NULL;
    size_t n = strlen(base);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, base, n) != 0 || strncmp(e->d_name + n, ".tmp-", 5) != 0 ||
            strlen(e->d_name + n + 5) != 6)
            continue;
        char *stale = malloc(strlen(dir) + strlen(e->d_name) + 1);
        if (stale) {
            sprintf(stale, "%s%s", dir, e->d_name);
            unlink(stale);
            free(stale);
        }
    }
    if (d)
        closedir(d);
    free(dir);
}

/* mkdir -p of the folders above `path`. */
static sdc_status make_parents(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    sdc_status s = SDC_OK;
    for (char *q = strchr(p + 1, '/'); q && s == SDC_OK; q = strchr(q + 1, '/')) {
        *q = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            s = sdc_fail(SDC_ERR_IO, "%s: cannot create folder: %s", p, strerror(errno));
        *q = '/';
    }
    free(p);
    return s;
}

static void add_to_grid(sdc_batch_run *r, const sdc_batch_job *job, int image)
{
    if (!r->collect_grid)
        return;
    if (r->grid_count == r->grid_cap) {
        int cap = r->grid_cap ? 2 * r->grid_cap : 64;
        sdc_batch_grid_item *grown = realloc(r->grid, (size_t)cap * sizeof *grown);
        if (!grown)
            return; /* the sheet misses this image; the run goes on */
        r->grid = grown;
        r->grid_cap = cap;
    }
    /* the path is copied: a streamed job is freed once it has run */
    json_t *params = sdc_batch_params_json(&job->opt, job->opt.gen.seed + (uint64_t)image);
    char *path = params ? strdup(job->outputs[image]) : NULL;
    if (path)
        r->grid[r->grid_count++] = (sdc_batch_grid_item){path, params};
    else
        json_decref(params);
}

/* One job's list of images for the render loop (cmd/render.h). */
typedef struct job_images {
    sdc_batch_run *r;
    const sdc_batch_job *job;
    sdc_generate_params base; /* the job's parameters with its init image and mask */
    sdc_cli_inputs in;
    int inputs_loaded;
    sdc_batch_timings t;      /* the current image's */
    double t0;
    char redone[256];         /* why --resume renders the current image again, or "" */
} job_images;

/* --resume found image i finished: reported, counted and shown as skipped. */
static void skip_image(job_images *c, int i)
{
    sdc_batch_run *r = c->r;
    const char *path = c->job->outputs[i];
    uint64_t seed = c->job->opt.gen.seed + (uint64_t)i;
    c->t.total = sdc_now_seconds() - c->t0;
    sdc_batch_record rec = {c->job, i, "skipped", path, seed, NULL, &c->t, NULL};
    report(r, &rec);
    r->summary.skipped++;
    add_to_grid(r, c->job, i);
    sdc_batch_progress_finish(&r->progress, "skipped", path, seed, c->t.total, 0);
}

/* The render loop's prepare hook: skips finished images on --resume, else makes the output
 * folder, loads the job's model and (once per job, as `sdc` does) its init image and mask. */
static sdc_status prepare_image(void *ctx, int i, sdc_render_item *item)
{
    job_images *c = ctx;
    sdc_batch_run *r = c->r;
    const char *path = c->job->outputs[i];
    c->t0 = sdc_now_seconds();
    memset(&c->t, 0, sizeof c->t);
    c->redone[0] = '\0';
    /* a killed run's half-written temporaries go, whether or not this image is redone (a
     * finished image can have one beside it from an earlier run killed mid-write) */
    if (r->resume)
        remove_stale_temporaries(path);
    if (r->resume && complete(path) &&
        !sdc_batch_stale(c->job, i, path, c->redone, sizeof c->redone)) {
        skip_image(c, i);
        item->skip = 1;
        return SDC_OK;
    }
    /* without --resume an existing file is an error (no silent overwrite) unless asked,
     * found before the image is rendered */
    item->overwrite = c->job->opt.overwrite || (r->resume && access(path, F_OK) == 0);
    item->path = path;
    if (!item->overwrite && access(path, F_OK) == 0)
        return sdc_fail(SDC_ERR_IO, "%s: file exists (use --overwrite to replace it)", path);
    sdc_status s = make_parents(path);
    if (s == SDC_OK)
        s = ensure_model(r, &c->job->opt);
    item->model = r->model;
    item->refiner = r->refiner;
    item->hr_model = r->hr_model;
    c->t.model_load = r->unreported_load;
    r->unreported_load = 0;
    if (s == SDC_OK && !c->inputs_loaded) {
        s = sdc_cli_inputs_load(&c->job->opt, &c->base, &c->in);
        c->inputs_loaded = s == SDC_OK;
        if (s == SDC_OK)
            sdc_cli_inputs_fit_model(&c->job->opt, &c->base, &c->in, r->model);
    }
    if (s == SDC_OK)
        sdc_batch_progress_begin(&r->progress, &c->t);
    return s;
}

static void image_generated(void *ctx)
{
    job_images *c = ctx;
    sdc_batch_progress_end_generate(&c->r->progress);
}

/* The render loop's finish hook: reports the image done, failed or interrupted. */
static void finish_image(void *ctx, int i, const sdc_render_item *item, sdc_status s,
                         double generate_seconds, double write_seconds)
{
    job_images *c = ctx;
    sdc_batch_run *r = c->r;
    const char *path = c->job->outputs[i];
    uint64_t seed = item->params.seed;
    c->t.generate = generate_seconds;
    c->t.write = write_seconds;
    c->t.total = sdc_now_seconds() - c->t0;
    const char *status = s == SDC_OK ? "done" : "interrupted";
    if (s != SDC_OK && s != SDC_ERR_INTERRUPTED) {
        r->disk_full |= no_space(0, sdc_last_error());
        fail(r, c->job, i, sdc_last_error(), &c->t);
        sdc_batch_progress_finish(&r->progress, "failed", path, seed, c->t.total, 0);
        return;
    }
    sdc_batch_record rec = {c->job, i, status, path, seed, NULL, &c->t,
                            c->redone[0] ? c->redone : NULL};
    report(r, &rec);
    if (s != SDC_OK)
        return;
    r->summary.done++;
    add_to_grid(r, c->job, i);
    sdc_batch_progress_finish(&r->progress, "done", path, seed, c->t.total, 1);
}

/* Every image of a job is attempted and reported, unless the run must stop. */
static int keep_going(void *ctx, sdc_status s)
{
    const job_images *c = ctx;
    (void)s;
    return !c->r->fail_fast && !c->r->disk_full;
}

sdc_status sdc_batch_run_job(sdc_batch_run *r, const sdc_batch_job *job)
{
    job_images c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.job = job;
    c.base = job->opt.gen;
    sdc_lora_file loras[SDC_CLI_MAX_LORAS];
    sdc_cli_loras(&job->opt, loras, &c.base);
    c.base.progress = sdc_batch_progress_update;
    c.base.user_data = &r->progress;
    sdc_cli_options previews = job->opt; /* what --preview-path alone means */
    sdc_cli_preview_resolve(&previews);
    c.base.preview = previews.gen.preview;
    r->progress.preview = (sdc_cli_preview){previews.preview_path, 0, 0};
    c.base.preview_fn = previews.preview_path ? sdc_batch_progress_preview : NULL;
    sdc_render_list list = {job->opt.batch_count, &c.base, prepare_image, image_generated,
                            finish_image, &c, keep_going};
    int reached = 0;
    sdc_status s = sdc_render_list_run(&list, &reached);
    if (s != SDC_OK && s != SDC_ERR_INTERRUPTED) /* --fail-fast or a full disk stopped it */
        r->progress.finished += job->opt.batch_count - reached;
    sdc_cli_inputs_free(&c.in);
    return s;
}
