/* The worker's side of `sdc serve`: picks the job's model from those kept loaded
 * (serve_cache.c) and renders a job's images as `sdc -b N` does:
 * the same option parsing, input loading, seeds seed, seed + 1, ..., generation, metadata
 * text and PNG writer, so a request and its command line give the same bytes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/base64.h"
#include "cmd/inputs.h"
#include "cmd/serve.h"
#include "ops/error.h"

static sdc_status job_error(sdc_job *job, int status, const char *field, sdc_status s)
{
    job->error_status = status;
    snprintf(job->error, sizeof job->error, "%s%s%s", field ? field : "", field ? ": " : "",
             sdc_last_error());
    return s;
}

/* Makes path the model in use, loaded unless the cache keeps it. */
static sdc_status ensure_model(sdc_server *srv, const char *path)
{
    sdc_model_params mp = sdc_cli_model_params(&srv->model_opt, path);
    char hash[11] = "";
    srv->model = NULL; /* the cache may free it to make room */
    sdc_status s = sdc_model_cache_get(srv->models, &mp, &srv->model, hash);
    pthread_mutex_lock(&srv->lock);
    snprintf(srv->model_path, sizeof srv->model_path, "%s", s == SDC_OK ? path : "");
    memcpy(srv->model_hash, hash, sizeof hash);
    srv->text_widths[0] = srv->text_widths[1] = 0;
    if (s == SDC_OK)
        sdc_model_text_widths(srv->model, srv->text_widths);
    pthread_mutex_unlock(&srv->lock);
    return s;
}

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL) * 2654435761u;
    if (fd >= 0)
        close(fd);
    return seed & 0xffffffffu; /* a seed people can type back, as `sdc -s -1` picks */
}

typedef struct run {
    sdc_server *srv;
    sdc_job *job;
    int image;
    int skipped, stopped;
} run;

static int on_progress(const char *stage, int step, int steps, void *user_data)
{
    run *r = user_data;
    int sampling = strcmp(stage, "sampling") == 0; /* the other stages count their own steps */
    int stop = sdc_job_progress(r->srv->queue, r->job, r->image, sampling ? step : -1, steps,
                                &r->skipped);
    r->stopped |= stop && !r->skipped;
    return stop;
}

static char *file_base64(const char *path);

/* A preview of the running image: a PNG (without metadata) for GET /sdapi/v1/progress. */
static int on_preview(const uint8_t *rgb, int width, int height, int step, int steps,
                      void *user_data)
{
    run *r = user_data;
    char path[128];
    (void)step, (void)steps;
    snprintf(path, sizeof path, "%s/preview-%llu.png", r->srv->tmpdir,
             (unsigned long long)atomic_fetch_add(&r->srv->tmp_counter, 1));
    if (sdc_image_save(path, rgb, width, height, NULL, 1) == SDC_OK) {
        char *b64 = file_base64(path); /* NULL (out of memory): the last one stays */
        if (b64)
            sdc_job_set_preview(r->srv->queue, r->job, b64);
    }
    unlink(path);
    return 0; /* stopping is the progress callback's business */
}

/* The whole file at path, as base64. */
static char *file_base64(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    uint8_t *bytes = n > 0 ? malloc((size_t)n) : NULL;
    if (bytes && fseek(f, 0, SEEK_SET) == 0 && fread(bytes, 1, (size_t)n, f) == (size_t)n)
        text = sdc_base64_encode(bytes, (size_t)n);
    free(bytes);
    fclose(f);
    return text;
}

/* One rendered picture as a PNG with its metadata, into the job's results. */
static sdc_status keep_image(sdc_server *srv, sdc_job *job, const sdc_generate_params *g,
                             const uint8_t *rgb, int w, int h)
{
    char *text = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/out-%llu.png", srv->tmpdir,
             (unsigned long long)atomic_fetch_add(&srv->tmp_counter, 1));
    sdc_status s = sdc_generate_parameters_text(srv->model, g, &text);
    if (s == SDC_OK)
        s = sdc_image_save(path, rgb, w, h, text, 1);
    char *b64 = s == SDC_OK ? file_base64(path) : NULL;
    unlink(path);
    if (s == SDC_OK && !b64)
        s = sdc_fail(SDC_ERR_IO, "cannot read back the rendered picture");
    if (s == SDC_OK) {
        if (job->send_images)
            json_array_append_new(job->images, json_string(b64));
        json_array_append_new(job->infotexts, json_string(text));
        json_array_append_new(job->seeds, json_integer((json_int_t)g->seed));
    }
    free(b64);
    free(text);
    return s;
}

static sdc_status render_images(sdc_server *srv, sdc_job *job, sdc_generate_params *g)
{
    int w, h;
    sdc_cli_output_size(g, &w, &h);
    uint8_t *rgb = malloc((size_t)w * h * 3);
    if (!rgb)
        return job_error(job, 500, NULL, sdc_fail(SDC_ERR_NOMEM, "out of memory for %dx%d", w, h));
    run r = {srv, job, 0, 0, 0};
    g->progress = on_progress;
    g->user_data = &r;
    g->preview = srv->model_opt.gen.preview; /* sdc serve --preview, --preview-interval */
    g->preview_interval = srv->model_opt.gen.preview_interval;
    g->preview_fn = g->preview != SDC_PREVIEW_NONE ? on_preview : NULL;
    uint64_t seed = job->opt.seed_random ? random_seed() : g->seed;
    sdc_status s = SDC_OK;
    for (int i = 0; i < job->count && s == SDC_OK && !r.stopped; i++) {
        r.image = i;
        g->seed = seed + (uint64_t)i;
        s = sdc_generate(srv->model, g, rgb);
        if (s == SDC_ERR_INTERRUPTED && r.skipped) { /* /skip: on to the next image */
            r.skipped = 0;
            s = SDC_OK;
            continue;
        }
        if (s == SDC_OK)
            s = keep_image(srv, job, g, rgb, w, h);
    }
    free(rgb);
    sdc_job_set_preview(srv->queue, job, NULL); /* previews are of the running image only */
    if (s == SDC_ERR_INTERRUPTED && !job->async)
        s = SDC_OK; /* /interrupt: AUTOMATIC1111 answers with the images made so far */
    if (s == SDC_ERR_INTERRUPTED)
        return job_error(job, 409, NULL, s);
    return s == SDC_OK ? s : job_error(job, s == SDC_ERR_ARG ? 422 : 500, NULL, s);
}

static sdc_status generate(sdc_server *srv, sdc_job *job)
{
    sdc_generate_params g = job->opt.gen;
    sdc_cli_inputs inputs;
    sdc_status s = sdc_cli_inputs_load(&job->opt, &g, &inputs);
    if (s != SDC_OK)
        return job_error(job, 422, "init_images", s);
    sdc_cli_inputs_fit_model(&job->opt, &g, &inputs, srv->model);
    s = render_images(srv, job, &g);
    sdc_cli_inputs_free(&inputs);
    return s;
}

sdc_status sdc_serve_run(void *ctx, sdc_job *job)
{
    sdc_server *srv = ctx;
    pthread_mutex_lock(&srv->lock);
    char *path = strdup(job->checkpoint ? job->checkpoint : srv->selected);
    pthread_mutex_unlock(&srv->lock);
    if (!path)
        return job_error(job, 500, NULL, sdc_fail(SDC_ERR_NOMEM, "out of memory"));
    sdc_status s = ensure_model(srv, path);
    if (s != SDC_OK)
        job_error(job, 500, "sd_model_checkpoint", s);
    else if (job->kind == SDC_JOB_LOAD) {
        pthread_mutex_lock(&srv->lock);
        snprintf(srv->selected, sizeof srv->selected, "%s", path);
        pthread_mutex_unlock(&srv->lock);
    } else {
        snprintf(job->model_title, sizeof job->model_title, "%s", sdc_serve_model_title(path));
        pthread_mutex_lock(&srv->lock);
        memcpy(job->model_hash, srv->model_hash, sizeof job->model_hash);
        pthread_mutex_unlock(&srv->lock);
        s = generate(srv, job);
    }
    free(path);
    return s;
}
