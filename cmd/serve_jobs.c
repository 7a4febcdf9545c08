#include "cmd/serve_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/progress.h"
#include "ops/error.h"

/* Finished asynchronous jobs kept for GET /v1/jobs/{id}, the oldest forgotten first. */
#define KEEP_FINISHED 32
/* How often a waiting request looks whether its client is still there: a hang-up costs at
 * most this long plus one sampling step. */
#define HANGUP_POLL_MS 100

struct sdc_job_queue {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* broadcast on every state change: worker and waiters watch it */
    sdc_job *head;          /* every job, oldest first */
    int max_active, active, finished_async;
    int stopping;
    unsigned long long next_id;
    unsigned salt;          /* ids differ between server runs */
    sdc_job_runner run;
    void *ctx;
};

sdc_job *sdc_job_new(sdc_job_kind kind)
{
    sdc_job *job = calloc(1, sizeof *job);
    if (!job)
        return NULL;
    job->kind = kind;
    job->count = 1;
    job->send_images = 1;
    sdc_cli_defaults(&job->opt);
    job->opt.quiet = 1;
    job->images = json_array();
    job->infotexts = json_array();
    job->seeds = json_array();
    if (!job->images || !job->infotexts || !job->seeds) {
        sdc_job_free(job);
        return NULL;
    }
    return job;
}

void sdc_job_free(sdc_job *job)
{
    if (!job)
        return;
    for (int i = 0; i < 2; i++)
        if (job->files[i]) {
            unlink(job->files[i]);
            free(job->files[i]);
        }
    free(job->checkpoint);
    json_decref(job->request);
    json_decref(job->images);
    json_decref(job->infotexts);
    json_decref(job->seeds);
    free(job->preview);
    free(job);
}

static int finished(const sdc_job *job) { return job->state >= SDC_JOB_DONE; }

static void unlink_job(sdc_job_queue *q, sdc_job *job)
{
    for (sdc_job **p = &q->head; *p; p = &(*p)->next)
        if (*p == job) {
            *p = job->next;
            job->next = NULL;
            return;
        }
}

/* Under the lock: the job ends in `state`; old finished asynchronous jobs are forgotten. */
static void finish(sdc_job_queue *q, sdc_job *job, sdc_job_state state)
{
    job->state = state;
    q->active--;
    if (job->async)
        q->finished_async++;
    while (q->finished_async > KEEP_FINISHED) {
        sdc_job *old = q->head;
        while (old && !(old->async && finished(old)))
            old = old->next;
        if (!old)
            break;
        unlink_job(q, old);
        sdc_job_free(old);
        q->finished_async--;
    }
    pthread_cond_broadcast(&q->changed);
}

static sdc_job *next_queued(sdc_job_queue *q)
{
    for (sdc_job *j = q->head; j; j = j->next)
        if (j->state == SDC_JOB_QUEUED)
            return j;
    return NULL;
}

void sdc_job_queue_work(sdc_job_queue *q)
{
    pthread_mutex_lock(&q->lock);
    for (;;) {
        sdc_job *job = next_queued(q);
        if (!job && q->stopping)
            break;
        if (!job) {
            pthread_cond_wait(&q->changed, &q->lock);
            continue;
        }
        job->state = SDC_JOB_RUNNING;
        job->started = sdc_now_seconds();
        pthread_mutex_unlock(&q->lock);
        sdc_status s = q->run(q->ctx, job); /* the job's results are the worker's alone */
        pthread_mutex_lock(&q->lock);
        finish(q, job, s == SDC_OK ? SDC_JOB_DONE
                       : job->interrupt && job->async ? SDC_JOB_CANCELLED : SDC_JOB_FAILED);
    }
    pthread_mutex_unlock(&q->lock);
}

sdc_status sdc_job_queue_new(int max_active, sdc_job_runner run, void *ctx, sdc_job_queue **out)
{
    sdc_job_queue *q = calloc(1, sizeof *q);
    if (!q)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->changed, NULL);
    q->max_active = max_active;
    q->run = run;
    q->ctx = ctx;
    q->salt = (unsigned)getpid() * 2654435761u ^ (unsigned)(sdc_now_seconds() * 1000);
    *out = q;
    return SDC_OK;
}

void sdc_job_queue_stop(sdc_job_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    for (sdc_job *j = q->head; j; j = j->next) {
        if (j->state == SDC_JOB_QUEUED) { /* not finish(): it would forget jobs mid-walk */
            j->error_status = 503;
            snprintf(j->error, sizeof j->error, "server shutting down");
            j->state = SDC_JOB_FAILED;
            q->active--;
        }
    }
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
}

void sdc_job_queue_free(sdc_job_queue *q)
{
    while (q->head) {
        sdc_job *j = q->head;
        q->head = j->next;
        sdc_job_free(j);
    }
    pthread_cond_destroy(&q->changed);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

int sdc_job_submit(sdc_job_queue *q, sdc_job *job)
{
    pthread_mutex_lock(&q->lock);
    if (q->stopping || q->active >= q->max_active) {
        pthread_mutex_unlock(&q->lock);
        return 503;
    }
    snprintf(job->id, sizeof job->id, "%08x-%llu", q->salt, ++q->next_id);
    job->state = SDC_JOB_QUEUED;
    q->active++;
    sdc_job **tail = &q->head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = job;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

/* Under the lock: the client of a synchronous job has gone. */
static void abandon(sdc_job_queue *q, sdc_job *job)
{
    job->hung_up = 1;
    job->interrupt = 1; /* running: stops at its next step */
    if (job->state == SDC_JOB_QUEUED) {
        snprintf(job->error, sizeof job->error, "client hung up");
        finish(q, job, SDC_JOB_CANCELLED);
    }
}

static void wait_a_while(sdc_job_queue *q)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += HANGUP_POLL_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&q->changed, &q->lock, &until);
}

sdc_job *sdc_job_wait(sdc_job_queue *q, sdc_job *job, int (*gone)(void *), void *arg)
{
    pthread_mutex_lock(&q->lock);
    while (!finished(job)) {
        if (!gone) {
            pthread_cond_wait(&q->changed, &q->lock);
            continue;
        }
        if (!job->hung_up && gone(arg)) /* a non-blocking look at the socket */
            abandon(q, job);
        if (!finished(job))
            wait_a_while(q);
    }
    unlink_job(q, job);
    pthread_mutex_unlock(&q->lock);
    return job;
}

static sdc_job *find(sdc_job_queue *q, const char *id)
{
    for (sdc_job *j = q->head; j; j = j->next)
        if (j->async && strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

void sdc_job_with_id(sdc_job_queue *q, const char *id, void (*fn)(sdc_job *, void *), void *arg)
{
    pthread_mutex_lock(&q->lock);
    fn(find(q, id), arg);
    pthread_mutex_unlock(&q->lock);
}

void sdc_job_with_running(sdc_job_queue *q, void (*fn)(sdc_job *, int, void *), void *arg)
{
    pthread_mutex_lock(&q->lock);
    sdc_job *running = NULL;
    int queued = 0;
    for (sdc_job *j = q->head; j; j = j->next) {
        running = j->state == SDC_JOB_RUNNING ? j : running;
        queued += j->state == SDC_JOB_QUEUED;
    }
    fn(running, queued, arg);
    pthread_mutex_unlock(&q->lock);
}

int sdc_job_cancel(sdc_job_queue *q, const char *id)
{
    pthread_mutex_lock(&q->lock);
    sdc_job *job = find(q, id);
    if (job && job->state == SDC_JOB_QUEUED) {
        snprintf(job->error, sizeof job->error, "cancelled");
        finish(q, job, SDC_JOB_CANCELLED);
    } else if (job && job->state == SDC_JOB_RUNNING) {
        job->interrupt = 1;
    } else if (job) {
        unlink_job(q, job);
        q->finished_async--;
        sdc_job_free(job);
    }
    pthread_mutex_unlock(&q->lock);
    return job ? 0 : 404;
}

void sdc_job_signal_running(sdc_job_queue *q, int what)
{
    pthread_mutex_lock(&q->lock);
    for (sdc_job *j = q->head; j; j = j->next)
        if (j->state == SDC_JOB_RUNNING) {
            if (what)
                j->skip = 1;
            else
                j->interrupt = 1;
        }
    pthread_mutex_unlock(&q->lock);
}

int sdc_job_progress(sdc_job_queue *q, sdc_job *job, int image, int step, int steps, int *skipped)
{
    pthread_mutex_lock(&q->lock);
    job->image = image;
    if (step >= 0) {
        job->step = step;
        job->steps = steps;
    }
    int stop = job->interrupt || q->stopping;
    if (job->skip) {
        *skipped = 1;
        job->skip = 0;
        stop = 1;
    }
    pthread_mutex_unlock(&q->lock);
    return stop;
}

void sdc_job_set_preview(sdc_job_queue *q, sdc_job *job, char *png_base64)
{
    pthread_mutex_lock(&q->lock);
    char *old = job->preview;
    job->preview = png_base64;
    pthread_mutex_unlock(&q->lock);
    free(old);
}
