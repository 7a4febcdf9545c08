/* The endpoints of `sdc serve`: AUTOMATIC1111's /sdapi/v1/... with its request and response
 * shapes, and the asynchronous queue /v1/jobs. Every answer is JSON; errors name the field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd/progress.h"
#include "cmd/serve.h"
#include "pipeline/infotext.h"

/* Seconds a client told "queue full" should wait before trying again. */
#define RETRY_AFTER_S 5

static void reply_json(sdc_http_reply *r, int status, json_t *o)
{
    r->status = status;
    r->body = o ? json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(o);
}

static void reply_error(sdc_http_reply *r, int status, const char *message)
{
    static const struct { int status; const char *kind; } kinds[] = {
        {400, "Bad Request"}, {404, "Not Found"}, {405, "Method Not Allowed"},
        {409, "Conflict"}, {413, "Payload Too Large"}, {422, "Unprocessable Entity"},
        {503, "Service Unavailable"},
    };
    const char *kind = "Internal Server Error";
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (kinds[i].status == status)
            kind = kinds[i].kind;
    r->status = status;
    r->body = sdc_http_error_body(kind, message);
    if (status == 503)
        r->retry_after = RETRY_AFTER_S;
}

/* ---- generation results ---- */

static const char *sampler_label(const char *name)
{
    int i = sdc_sampler_from_name(name);
    const char *d = i >= 0 ? sdc_sampler_display_name(i) : NULL;
    return d ? d : name;
}

/* A1111's `info`: the settings of the images as a JSON object (sent as a string). */
static json_t *info_object(const sdc_job *job)
{
    const sdc_generate_params *g = &job->opt.gen;
    size_t n = json_array_size(job->seeds);
    json_t *prompts = json_array(), *negatives = json_array(), *subseeds = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(prompts, json_string(g->prompt));
        json_array_append_new(negatives, json_string(g->negative_prompt ? g->negative_prompt : ""));
        json_array_append_new(subseeds, json_integer(-1));
    }
    json_t *first = json_array_get(job->seeds, 0);
    char name[512];
    snprintf(name, sizeof name, "%s", job->model_title);
    char *dot = strrchr(name, '.');
    if (dot)
        *dot = '\0';
    return json_pack("{s:s, s:o, s:s, s:o, s:O, s:O, s:i, s:o, s:i, s:i, s:s, s:f, s:i, s:i,"
                     " s:b, s:s, s:s, s:f, s:i, s:i, s:O, s:s}",
                     "prompt", g->prompt, "all_prompts", prompts, "negative_prompt",
                     g->negative_prompt ? g->negative_prompt : "", "all_negative_prompts", negatives,
                     "seed", first ? first : json_null(), "all_seeds", job->seeds, "subseed", -1,
                     "all_subseeds", subseeds, "width", g->width, "height", g->height,
                     "sampler_name", sampler_label(g->sampler), "cfg_scale", (double)g->cfg_scale,
                     "steps", g->steps, "batch_size", job->count, "restore_faces", 0,
                     "sd_model_name", name, "sd_model_hash", job->model_hash, "denoising_strength", (double)g->strength,
                     "clip_skip", g->clip_skip, "index_of_first_image", 0, "infotexts",
                     job->infotexts, "version", "sdc " SDC_VERSION);
}

/* {"images", "parameters", "info"} as A1111's txt2img / img2img answer them. */
static json_t *result_object(const sdc_job *job)
{
    json_t *params = json_deep_copy(job->request);
    json_t *info = info_object(job);
    char *info_text = info ? json_dumps(info, JSON_COMPACT) : NULL;
    json_decref(info);
    json_t *first = json_array_get(job->seeds, 0);
    if (params) { /* the pictures sent are not sent back */
        json_object_set_new(params, "init_images", json_null());
        json_object_set_new(params, "mask", json_null());
        if (first)
            json_object_set(params, "seed", first);
    }
    json_t *o = json_pack("{s:O, s:o, s:s}", "images", job->images,
                          "parameters", params ? params : json_object(),
                          "info", info_text ? info_text : "{}");
    free(info_text);
    return o;
}

static int client_gone(void *fd) { return sdc_http_client_gone(*(int *)fd); }

static void generate(sdc_server *srv, const char *body, size_t size, int img2img, int async,
                     sdc_http_reply *r)
{
    sdc_job *job = NULL;
    char err[1024];
    int rc = sdc_serve_request_parse(srv, body, size, img2img, &job, err, sizeof err);
    if (rc) {
        reply_error(r, rc, err);
        return;
    }
    job->async = async;
    if (sdc_job_submit(srv->queue, job)) {
        sdc_job_free(job);
        reply_error(r, 503, "the queue is full (or the server is stopping); try again later");
        return;
    }
    if (async) { /* the queue owns it now */
        json_t *o = json_pack("{s:s, s:s}", "id", job->id, "state", "queued");
        reply_json(r, 202, o);
        return;
    }
    sdc_job_wait(srv->queue, job, client_gone, &r->client_fd);
    if (job->hung_up && srv->verbose)
        fprintf(stderr, "sdc serve: job %s: the client hung up; stopped at step %d of %d\n",
                job->id, job->step, job->steps);
    if (job->state == SDC_JOB_DONE)
        reply_json(r, 200, result_object(job));
    else
        reply_error(r, job->error_status ? job->error_status : 500, job->error);
    sdc_job_free(job);
}

/* ---- /v1/jobs/{id} ---- */

static const char *state_name(sdc_job_state s)
{
    static const char *const names[] = {"queued", "running", "done", "failed", "cancelled"};
    return names[s];
}

static double progress_of(const sdc_job *job)
{
    if (job->state >= SDC_JOB_DONE)
        return 1.0;
    if (job->state == SDC_JOB_QUEUED || job->steps <= 0)
        return 0.0;
    return (job->image + (double)job->step / job->steps) / job->count;
}

typedef struct lookup {
    json_t *out;
    int skip_image; /* ?skip_current_image=true */
} lookup;

/* A1111's boolean query arguments: true / True / 1. */
static int query_true(const char *key)
{
    const char *v = sdc_http_query(key);
    return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* The latest preview of a running job, base64 PNG, or JSON null. */
static json_t *current_image(const sdc_job *job)
{
    return job && job->preview ? json_string(job->preview) : json_null();
}

static void describe(sdc_job *job, void *arg)
{
    lookup *l = arg;
    if (!job)
        return;
    json_t *o = json_pack("{s:s, s:s, s:f}", "id", job->id, "state", state_name(job->state),
                          "progress", progress_of(job));
    if (o && job->state == SDC_JOB_RUNNING && !l->skip_image)
        json_object_set_new(o, "current_image", current_image(job));
    if (o && job->state == SDC_JOB_DONE)
        json_object_update_new(o, result_object(job));
    if (o && (job->state == SDC_JOB_FAILED || job->state == SDC_JOB_CANCELLED))
        json_object_set_new(o, "error", json_string(job->error));
    l->out = o;
}

static void job_endpoint(sdc_server *srv, const char *method, const char *id, sdc_http_reply *r)
{
    if (strcmp(method, "DELETE") == 0) {
        if (sdc_job_cancel(srv->queue, id))
            reply_error(r, 404, "no such job");
        else
            reply_json(r, 200, json_pack("{s:s, s:b}", "id", id, "cancelled", 1));
        return;
    }
    if (strcmp(method, "GET") != 0) {
        reply_error(r, 405, "use GET or DELETE");
        return;
    }
    lookup l = {NULL, query_true("skip_current_image")};
    sdc_job_with_id(srv->queue, id, describe, &l);
    if (l.out)
        reply_json(r, 200, l.out);
    else
        reply_error(r, 404, "no such job (finished jobs are kept for a while, then forgotten)");
}

/* ---- /sdapi/v1/progress ---- */

static void describe_running(sdc_job *job, int queued, void *arg)
{
    lookup *l = arg;
    double p = job ? progress_of(job) : 0.0;
    double elapsed = job ? sdc_now_seconds() - job->started : 0.0;
    double eta = p > 0 ? elapsed / p - elapsed : 0.0;
    json_t *state = json_pack("{s:b, s:b, s:s, s:i, s:s, s:i, s:i, s:i}",
                              "skipped", job ? job->skip : 0, "interrupted", job ? job->interrupt : 0,
                              "job", job ? job->id : "", "job_count", queued + (job != NULL),
                              "job_timestamp", "0", "job_no", job ? job->image : 0,
                              "sampling_step", job ? job->step : 0,
                              "sampling_steps", job ? job->steps : 0);
    l->out = json_pack("{s:f, s:f, s:o, s:o, s:n}", "progress", p, "eta_relative", eta,
                       "state", state ? state : json_object(), "current_image",
                       l->skip_image ? json_null() : current_image(job), "textinfo");
}

/* ---- name tables ---- */

static json_t *samplers(void)
{
    json_t *list = json_array();
    for (int i = 0; i < sdc_sampler_count(); i++) {
        const char *d = sdc_sampler_display_name(i);
        json_array_append_new(list, json_pack("{s:s, s:[s], s:{}}", "name", d ? d : sdc_sampler_name(i),
                                              "aliases", sdc_sampler_name(i), "options"));
    }
    return list;
}

static json_t *schedulers(void)
{
    json_t *list = json_array();
    for (int i = 0; i < sdc_scheduler_count(); i++) {
        const char *d = sdc_scheduler_display_name(i);
        const char *name = i == 0 ? "automatic" : sdc_scheduler_name(i); /* A1111's spelling */
        json_array_append_new(list, json_pack("{s:s, s:s, s:[s], s:n, s:n}", "name", name,
                                              "label", i == 0 ? "Automatic" : d ? d : name,
                                              "aliases", sdc_scheduler_name(i), "default_rho",
                                              "need_inner_model"));
    }
    return list;
}

/* ---- /sdapi/v1/options ---- */

static json_t *options(sdc_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    char title[600];
    int resident = strcmp(srv->selected, srv->model_path) == 0 && srv->model_hash[0];
    if (resident)
        snprintf(title, sizeof title, "%s [%s]", sdc_serve_model_title(srv->selected), srv->model_hash);
    else
        snprintf(title, sizeof title, "%s", sdc_serve_model_title(srv->selected));
    json_t *o = json_pack("{s:s, s:s?}", "sd_model_checkpoint", title, "sd_checkpoint_hash",
                          resident ? srv->model_hash : NULL);
    pthread_mutex_unlock(&srv->lock);
    return o;
}

/* sd_model_checkpoint switches the resident model (on the worker, in queue order); other
 * settings are not sdc's and are ignored. */
static void set_options(sdc_server *srv, const char *body, size_t size, sdc_http_reply *r)
{
    json_t *root = json_loadb(body, size, 0, NULL);
    const json_t *ck = json_object_get(root, "sd_model_checkpoint");
    char *path = json_is_string(ck) ? sdc_serve_model_resolve(srv, json_string_value(ck)) : NULL;
    if (!json_is_object(root) || (ck && !path)) {
        reply_error(r, 422, !json_is_object(root) ? "body: must be a JSON object"
                    : json_is_string(ck) ? "sd_model_checkpoint: no such model (see /sdapi/v1/sd-models)"
                    : "sd_model_checkpoint: must be a string");
        json_decref(root);
        return;
    }
    json_decref(root);
    sdc_job *job = path ? sdc_job_new(SDC_JOB_LOAD) : NULL;
    if (!path) {
        reply_json(r, 200, json_null());
        return;
    }
    if (job)
        job->checkpoint = path; /* the job owns it */
    else
        free(path);
    if (!job || sdc_job_submit(srv->queue, job)) {
        sdc_job_free(job);
        reply_error(r, job ? 503 : 500, "the queue is full; try again later");
        return;
    }
    sdc_job_wait(srv->queue, job, NULL, NULL); /* a model load cannot stop half-way */
    if (job->state == SDC_JOB_DONE)
        reply_json(r, 200, json_null());
    else
        reply_error(r, job->error_status ? job->error_status : 500, job->error);
    sdc_job_free(job);
}

/* ---- /sdapi/v1/png-info ---- */

static json_t *parsed_parameters(const char *text)
{
    sdc_infotext t;
    json_t *o = json_object();
    if (!text || sdc_infotext_parse(text, &t) != SDC_OK)
        return o;
    json_object_set_new(o, "Prompt", json_string(t.prompt));
    json_object_set_new(o, "Negative prompt", json_string(t.negative));
    for (size_t i = 0; i < t.count; i++)
        json_object_set_new(o, t.keys[i], json_string(t.values[i]));
    sdc_infotext_free(&t);
    return o;
}

static void png_info(sdc_server *srv, const char *body, size_t size, sdc_http_reply *r)
{
    json_t *root = json_loadb(body, size, 0, NULL);
    char err[512];
    char *path = NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        reply_error(r, 422, "body: must be a JSON object with an \"image\"");
        return;
    }
    if (sdc_serve_upload(srv, "image", json_object_get(root, "image"), &path, err, sizeof err)) {
        json_decref(root);
        reply_error(r, 422, err);
        return;
    }
    json_decref(root);
    char *text = NULL;
    sdc_png_read_parameters(path, &text); /* JPEG, BMP, or a PNG without: no parameters */
    unlink(path);
    free(path);
    json_t *items = text ? json_pack("{s:s}", "parameters", text) : json_object();
    reply_json(r, 200, json_pack("{s:s, s:o, s:o}", "info", text ? text : "", "items", items,
                                 "parameters", parsed_parameters(text)));
    free(text);
}

/* The embeddings, or a 500 naming the folder that cannot be read (removed since the start). */
static void embeddings(sdc_server *srv, sdc_http_reply *r)
{
    json_t *list = sdc_serve_embedding_list(srv);
    if (list)
        reply_json(r, 200, list);
    else
        reply_error(r, 500, sdc_last_error());
}

/* ---- dispatch ---- */

static int is(const char *method, const char *url, const char *m, const char *u)
{
    return strcmp(url, u) == 0 && (!m || strcmp(method, m) == 0);
}

/* The endpoints that need a body, by method and path; returns 0 when none matched. */
static int handle_post(sdc_server *srv, const char *method, const char *url, const char *body,
                       size_t size, sdc_http_reply *r)
{
    if (strcmp(method, "POST") != 0)
        return 0;
    if (is(method, url, "POST", "/sdapi/v1/txt2img"))
        generate(srv, body, size, 0, 0, r);
    else if (is(method, url, "POST", "/sdapi/v1/img2img"))
        generate(srv, body, size, 1, 0, r);
    else if (is(method, url, "POST", "/v1/jobs")) {
        json_t *root = json_loadb(body, size, 0, NULL);
        int img2img = json_object_get(root, "init_images") != NULL;
        json_decref(root);
        generate(srv, body, size, img2img, 1, r);
    } else if (is(method, url, "POST", "/sdapi/v1/interrupt"))
        sdc_job_signal_running(srv->queue, 0), reply_json(r, 200, json_object());
    else if (is(method, url, "POST", "/sdapi/v1/skip"))
        sdc_job_signal_running(srv->queue, 1), reply_json(r, 200, json_object());
    else if (is(method, url, "POST", "/sdapi/v1/options"))
        set_options(srv, body, size, r);
    else if (is(method, url, "POST", "/sdapi/v1/png-info"))
        png_info(srv, body, size, r);
    else
        return 0;
    return 1;
}

static int handle_get(sdc_server *srv, const char *method, const char *url, sdc_http_reply *r)
{
    if (strcmp(method, "GET") != 0)
        return 0;
    lookup l = {NULL, query_true("skip_current_image")};
    if (is(method, url, "GET", "/sdapi/v1/progress")) {
        sdc_job_with_running(srv->queue, describe_running, &l);
        reply_json(r, 200, l.out);
    } else if (is(method, url, "GET", "/sdapi/v1/sd-models"))
        reply_json(r, 200, sdc_serve_model_list(srv));
    else if (is(method, url, "GET", "/sdapi/v1/loras"))
        reply_json(r, 200, sdc_serve_lora_list(srv));
    else if (is(method, url, "GET", "/sdapi/v1/embeddings"))
        embeddings(srv, r);
    else if (is(method, url, "GET", "/sdapi/v1/samplers"))
        reply_json(r, 200, samplers());
    else if (is(method, url, "GET", "/sdapi/v1/schedulers"))
        reply_json(r, 200, schedulers());
    else if (is(method, url, "GET", "/sdapi/v1/options"))
        reply_json(r, 200, options(srv));
    else
        return 0;
    return 1;
}

void sdc_serve_handle(void *ctx, const char *method, const char *url, const char *body,
                      size_t size, sdc_http_reply *r)
{
    sdc_server *srv = ctx;
    if (strncmp(url, "/v1/jobs/", 9) == 0 && url[9] && !strchr(url + 9, '/')) {
        job_endpoint(srv, method, url + 9, r);
        return;
    }
    if (handle_post(srv, method, url, body, size, r) || handle_get(srv, method, url, r))
        return;
    reply_error(r, 404, "no such endpoint (or not with this method)");
}
