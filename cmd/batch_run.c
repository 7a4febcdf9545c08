#include "cmd/batch_run.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/inputs.h"
#include "cmd/progress.h"
#include "image/image.h"
#include "ops/error.h"
#include "pipeline/parameters.h"

void sdc_batch_run_init(sdc_batch_run *r, const char *job_file, int quiet, int total_images)
{
    memset(r, 0, sizeof *r);
    r->job_file = strcmp(job_file, "-") == 0 ? "stdin" : job_file;
    sdc_batch_progress_init(&r->progress, quiet, total_images);
}

void sdc_batch_run_free(sdc_batch_run *r)
{
    sdc_model_free(r->model);
    free(r->failed_error);
    free(r->pixels);
    for (int i = 0; i < r->grid_count; i++)
        json_decref(r->grid[i].params);
    free(r->grid);
    memset(r, 0, sizeof *r);
}

static void report(sdc_batch_run *r, const sdc_batch_record *rec)
{
    if (!r->report || r->report_failed)
        return;
    if (sdc_batch_report_line(r->report, sdc_batch_record_json(rec)) != 0) {
        r->report_failed = 1;
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
    sdc_batch_record rec = {job, image, "failed", output, seed, error, t};
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
           same_string(a->vocab, b->vocab) && a->prediction == b->prediction &&
           a->threads == b->threads && a->bf16 == b->bf16;
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
    r->model = NULL;
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = o->model;
    mp.vae_path = o->vae;
    mp.vocab_path = o->vocab;
    mp.prediction = o->prediction;
    mp.threads = o->threads;
    mp.bf16 = o->bf16;
    double t0 = sdc_now_seconds();
    sdc_status s = sdc_model_load(&mp, &r->model);
    if (s == SDC_OK)
        s = sdc_model_short_hash(r->model, r->model_hash);
    if (s != SDC_OK) {
        sdc_model_free(r->model);
        r->model = NULL;
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
    sdc_image img;
    int ok = sdc_image_load(path, &img, NULL) == SDC_OK;
    sdc_image_free(&img);
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
    json_t *params = sdc_batch_params_json(&job->opt, job->opt.gen.seed + (uint64_t)image);
    if (params)
        r->grid[r->grid_count++] = (sdc_batch_grid_item){job->outputs[image], params};
}

static sdc_status ensure_pixels(sdc_batch_run *r, size_t bytes)
{
    if (bytes <= r->pixels_size)
        return SDC_OK;
    uint8_t *px = realloc(r->pixels, bytes);
    if (!px)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for a %zu-byte image", bytes);
    r->pixels = px;
    r->pixels_size = bytes;
    return SDC_OK;
}

/* Renders image `i` of the job and writes it; t receives the timings. `base` holds the
 * job's parameters with its init image and mask. */
static sdc_status render(sdc_batch_run *r, const sdc_batch_job *job, int i,
                         const sdc_generate_params *base, int overwrite, sdc_batch_timings *t)
{
    const sdc_cli_options *o = &job->opt;
    sdc_generate_params g = *base;
    g.seed = base->seed + (uint64_t)i;
    g.progress = sdc_batch_progress_update;
    g.user_data = &r->progress;
    sdc_image img = {0, 0, 3, NULL};
    sdc_cli_output_size(&g, &img.width, &img.height);
    sdc_status s = ensure_pixels(r, (size_t)img.width * img.height * 3);
    double t0 = sdc_now_seconds();
    sdc_batch_progress_begin(&r->progress, t);
    if (s == SDC_OK)
        s = sdc_generate(r->model, &g, r->pixels);
    sdc_batch_progress_end_generate(&r->progress);
    double t1 = sdc_now_seconds();
    t->generate = t1 - t0;
    char *params = s == SDC_OK ? sdc_parameters_text(&g, o->model, r->model_hash) : NULL;
    if (s == SDC_OK && !params)
        s = sdc_fail(SDC_ERR_NOMEM, "out of memory");
    img.pixels = r->pixels;
    if (s == SDC_OK)
        s = sdc_image_write(job->outputs[i], &img, params, overwrite);
    t->write = sdc_now_seconds() - t1;
    free(params);
    return s;
}

/* One image: skipped when --resume finds it finished, else rendered. */
static sdc_status run_image(sdc_batch_run *r, const sdc_batch_job *job, int i,
                            sdc_cli_inputs *in, sdc_generate_params *base, int *inputs_loaded)
{
    const char *path = job->outputs[i];
    uint64_t seed = job->opt.gen.seed + (uint64_t)i;
    double t0 = sdc_now_seconds();
    sdc_batch_timings t;
    memset(&t, 0, sizeof t);
    if (r->resume && complete(path)) {
        t.total = sdc_now_seconds() - t0;
        sdc_batch_record rec = {job, i, "skipped", path, seed, NULL, &t};
        report(r, &rec);
        r->summary.skipped++;
        add_to_grid(r, job, i);
        sdc_batch_progress_finish(&r->progress, "skipped", path, seed, t.total, 0);
        return SDC_OK;
    }
    /* without --resume an existing file is an error (no silent overwrite) unless asked */
    int overwrite = job->opt.overwrite || (r->resume && access(path, F_OK) == 0);
    if (r->resume)
        remove_stale_temporaries(path);
    sdc_status s = make_parents(path);
    if (s == SDC_OK)
        s = ensure_model(r, &job->opt);
    t.model_load = r->unreported_load;
    r->unreported_load = 0;
    if (s == SDC_OK && !*inputs_loaded) { /* once per job, as `sdc` does */
        s = sdc_cli_inputs_load(&job->opt, base, in);
        *inputs_loaded = s == SDC_OK;
    }
    if (s == SDC_OK)
        s = render(r, job, i, base, overwrite, &t);
    t.total = sdc_now_seconds() - t0;
    if (s == SDC_ERR_INTERRUPTED) {
        sdc_batch_record rec = {job, i, "interrupted", path, seed, NULL, &t};
        report(r, &rec);
        return s;
    }
    if (s != SDC_OK) {
        fail(r, job, i, sdc_last_error(), &t);
        sdc_batch_progress_finish(&r->progress, "failed", path, seed, t.total, 0);
        return s;
    }
    sdc_batch_record rec = {job, i, "done", path, seed, NULL, &t};
    report(r, &rec);
    r->summary.done++;
    add_to_grid(r, job, i);
    sdc_batch_progress_finish(&r->progress, "done", path, seed, t.total, 1);
    return SDC_OK;
}

sdc_status sdc_batch_run_job(sdc_batch_run *r, const sdc_batch_job *job)
{
    sdc_cli_inputs in;
    memset(&in, 0, sizeof in);
    sdc_generate_params base = job->opt.gen;
    int inputs_loaded = 0;
    sdc_status s = SDC_OK;
    int i = 0;
    for (; s == SDC_OK && i < job->opt.batch_count; i++) {
        if (sdc_signal_received())
            s = sdc_fail(SDC_ERR_INTERRUPTED, "interrupted");
        else
            s = run_image(r, job, i, &in, &base, &inputs_loaded);
    }
    if (s != SDC_OK && s != SDC_ERR_INTERRUPTED) /* the rest of a failed job is not tried */
        r->progress.finished += job->opt.batch_count - i;
    sdc_cli_inputs_free(&in);
    return s;
}
