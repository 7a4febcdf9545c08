/* `sdc serve`: what its parts share. The server keeps models resident (the worker loads
 * and switches them, serve_cache.c); HTTP threads map AUTOMATIC1111 requests to jobs (serve_request.c), the
 * worker renders them (serve_worker.c), serve_api.c answers each endpoint. */
#ifndef SDC_CMD_SERVE_H
#define SDC_CMD_SERVE_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cmd/options.h"
#include "cmd/serve_cache.h"
#include "cmd/serve_http.h"
#include "cmd/serve_jobs.h"

typedef struct sdc_server {
    sdc_job_queue *queue;
    const char *models_dir;     /* --models-dir: the checkpoints requests may name */
    const char *default_model;  /* -m (or the demo model): loaded at start */
    const char *embd_dir;       /* --embd-dir: textual-inversion words of every request */
    sdc_cli_options model_opt;  /* --threads, --vocab: how models are loaded */
    uint64_t max_pixels;        /* per image */
    char tmpdir[64];            /* uploaded pictures on their way to the worker */
    atomic_ullong tmp_counter;
    int verbose;                /* -v: model loads, memory, hang-ups on stderr */
    /* -- the worker's: the models kept loaded, and the one in use -- */
    sdc_model_cache *models;
    sdc_model *model;
    /* -- lock: what GET /options and /sd-models say is loaded -- */
    pthread_mutex_t lock;
    char model_path[4096];      /* resident ("" when none) */
    char model_hash[11];
    int text_widths[2];         /* its text encoders' (sdc_model_text_widths), 0 0: none */
    char selected[4096];        /* what requests without a checkpoint use: -m, then
                                   POST /options sd_model_checkpoint */
} sdc_server;

/* -- serve_request.c: AUTOMATIC1111 bodies to jobs -- */

/* A generation job from a txt2img (img2img = 0) or img2img body. Returns 0, or the HTTP
 * status (422: the message in err names the field). */
int sdc_serve_request_parse(sdc_server *srv, const char *body, size_t size, int img2img,
                            sdc_job **out, char *err, size_t err_size);
/* The model file a checkpoint name of /sd-models (title, model_name or file name) means,
 * malloc'd, or NULL. */
char *sdc_serve_model_resolve(const sdc_server *srv, const char *name);
/* /sdapi/v1/sd-models: the checkpoints of --models-dir and the -m model. */
json_t *sdc_serve_model_list(sdc_server *srv);
/* The title of a model file as /sd-models gives it ("name.safetensors"). */
const char *sdc_serve_model_title(const char *path);
/* A decoded base64 picture written to a temporary file (malloc'd path), checked to be a
 * readable image; 0 or 422 with err naming `field`. */
int sdc_serve_upload(sdc_server *srv, const char *field, const json_t *value, char **path,
                     char *err, size_t err_size);

/* /sdapi/v1/loras: [{"name", "alias", "path", "metadata"}] of the loras folder beside the
 * selected model (serve_loras.c). */
json_t *sdc_serve_lora_list(sdc_server *srv);
/* /sdapi/v1/embeddings: {"loaded": {NAME: {...}}, "skipped": {...}} of --embd-dir for the
 * resident model (serve_embeddings.c); NULL (the error set) when the folder is unreadable. */
json_t *sdc_serve_embedding_list(sdc_server *srv);

/* -- serve_worker.c -- */

/* The job runner (sdc_job_runner): ctx is the sdc_server. */
sdc_status sdc_serve_run(void *ctx, sdc_job *job);

/* -- serve_api.c -- */

/* The sdc_http_handler: ctx is the sdc_server. */
void sdc_serve_handle(void *ctx, const char *method, const char *url, const char *body,
                      size_t size, sdc_http_reply *reply);

#endif
