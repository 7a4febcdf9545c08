/* The job queue of `sdc serve`: every generation (a synchronous /sdapi/v1/txt2img as much as
 * an asynchronous /v1/jobs one) and every model switch is a job, run one at a time by one
 * worker (the main thread), because the cores are the limit. HTTP threads only submit, look and wait;
 * they never run a job. All fields marked "lock" are read and written under the queue's
 * mutex; a job's results are written by the worker before it finishes the job and are
 * read-only afterwards. */
#ifndef SDC_CMD_SERVE_JOBS_H
#define SDC_CMD_SERVE_JOBS_H

#include <jansson.h>
#include <pthread.h>

#include "cmd/options.h"
#include "sdc.h"

typedef enum sdc_job_state {
    SDC_JOB_QUEUED, SDC_JOB_RUNNING, SDC_JOB_DONE, SDC_JOB_FAILED, SDC_JOB_CANCELLED
} sdc_job_state;

typedef enum sdc_job_kind { SDC_JOB_GENERATE, SDC_JOB_LOAD } sdc_job_kind;

typedef struct sdc_job {
    /* -- set before submission -- */
    char id[32];
    sdc_job_kind kind;
    int async;              /* kept for GET /v1/jobs/{id} after it finishes */
    json_t *request;        /* the request body: owns the strings `opt` points at */
    sdc_cli_options opt;    /* what to render, as the command line would */
    char *checkpoint;       /* the model file it needs, NULL: the resident one */
    char *files[2];         /* temporary init image and mask, removed with the job */
    int count;              /* images */
    int send_images;
    /* -- lock -- */
    sdc_job_state state;
    int image, step, steps; /* the image being rendered, its sampling step */
    double started;         /* seconds (monotonic) when it began running */
    int interrupt, skip;    /* asked by /interrupt, /skip, DELETE */
    int hung_up;            /* a synchronous job's client went away: stopped, not answered */
    char *preview;          /* base64 PNG of the running image's latest preview, or NULL */
    /* -- results -- */
    json_t *images;         /* base64 PNGs */
    json_t *infotexts;      /* their 'parameters' texts */
    json_t *seeds;
    char model_title[512];  /* the model that rendered it */
    char model_hash[11];
    int error_status;       /* HTTP status for a failure */
    char error[512];
    struct sdc_job *next;   /* lock: the queue's list */
} sdc_job;

typedef struct sdc_job_queue sdc_job_queue;
/* Runs one job on the worker thread; returns SDC_OK or fills job->error_status and
 * job->error. */
typedef sdc_status (*sdc_job_runner)(void *ctx, sdc_job *job);

/* A job with its defaults (one image, images sent), or NULL when out of memory. */
sdc_job *sdc_job_new(sdc_job_kind kind);
void sdc_job_free(sdc_job *job);

/* A queue of max_active queued and running jobs at most (further submissions are refused),
 * run by `run`. */
sdc_status sdc_job_queue_new(int max_active, sdc_job_runner run, void *ctx, sdc_job_queue **out);
/* The worker: runs the jobs on the calling thread, in order, until sdc_job_queue_stop. It is
 * the program's main thread, as for `sdc`, so the library's per-thread buffers and OpenMP's
 * thread pool live as long as the process. */
void sdc_job_queue_work(sdc_job_queue *q);
/* From another thread: fails the queued jobs ("server shutting down", 503), stops the
 * running one after its current step; the worker returns, the waiting threads wake up. */
void sdc_job_queue_stop(sdc_job_queue *q);
/* Frees the queue and its jobs, once no HTTP thread uses it any more. */
void sdc_job_queue_free(sdc_job_queue *q);

/* Gives the job an id and queues it; the queue owns it from then on. Returns 0, or 503 with
 * nothing taken when the queue is full or stopping. */
int sdc_job_submit(sdc_job_queue *q, sdc_job *job);
/* Waits for a synchronous job to end, then takes it out of the queue: the caller owns it.
 * gone (NULL: none) is asked a few times a second whether the client has hung up; then a
 * queued job is dropped and a running one stops at its next step (job->hung_up set). */
sdc_job *sdc_job_wait(sdc_job_queue *q, sdc_job *job, int (*gone)(void *arg), void *arg);

/* Lock-taking views for the HTTP threads. fn runs under the lock with the job (NULL when
 * no such id / none running). */
void sdc_job_with_id(sdc_job_queue *q, const char *id, void (*fn)(sdc_job *job, void *arg), void *arg);
void sdc_job_with_running(sdc_job_queue *q, void (*fn)(sdc_job *job, int queued, void *arg), void *arg);
/* DELETE /v1/jobs/{id}: a queued job is cancelled, a running one interrupted, a finished
 * one forgotten. Returns 0, or 404 when there is no such id. */
int sdc_job_cancel(sdc_job_queue *q, const char *id);
/* /interrupt (what = 0) and /skip (1): the running job, if any. */
void sdc_job_signal_running(sdc_job_queue *q, int what);

/* For the runner's progress callback: records the sampling step (step < 0: another stage,
 * nothing recorded); returns non-zero when the job
 * should stop (interrupt, skip: *skipped set and cleared, or shutdown). */
int sdc_job_progress(sdc_job_queue *q, sdc_job *job, int image, int step, int steps, int *skipped);
/* For the runner's preview callback: the job's latest preview becomes png_base64 (malloc'd,
 * taken over; NULL clears it). */
void sdc_job_set_preview(sdc_job_queue *q, sdc_job *job, char *png_base64);

#endif
