#include "cmd/batch_progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/progress.h"
#include "ops/error.h"

enum { BAR = 20 };

void sdc_batch_progress_init(sdc_batch_progress *p, int quiet, int total)
{
    memset(p, 0, sizeof *p);
    p->quiet = quiet;
    p->is_tty = isatty(STDERR_FILENO);
    p->total = total;
}

void sdc_batch_progress_begin(sdc_batch_progress *p, sdc_batch_timings *t)
{
    p->timings = t;
    p->tick = sdc_now_seconds();
    p->stage[0] = '\0';
}

double sdc_batch_progress_eta(const sdc_batch_progress *p)
{
    if (p->rendered == 0)
        return -1;
    return p->render_seconds / p->rendered * (p->total - p->finished);
}

static void bar(char *out, int done, int total)
{
    int filled = total > 0 ? (int)((long long)done * BAR / total) : BAR;
    for (int i = 0; i < BAR; i++)
        out[i] = i < filled ? '#' : '-';
    out[BAR] = '\0';
}

/* "1h02m", "3m05s", "12s", or "?" */
static void duration(char *out, size_t size, double seconds)
{
    long s = (long)(seconds + 0.5);
    if (seconds < 0)
        snprintf(out, size, "?");
    else if (s >= 3600)
        snprintf(out, size, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(out, size, "%lds", s);
}

static void draw(const sdc_batch_progress *p, const char *stage, int step, int steps,
                 double per_step)
{
    char all[BAR + 1], one[BAR + 1], eta[32];
    bar(all, p->finished, p->total);
    bar(one, step, steps);
    duration(eta, sizeof eta, sdc_batch_progress_eta(p));
    fprintf(stderr, "\r[%d/%d |%s| ETA %s] %-8s |%s| %d/%d %.2fs/it\033[K", p->finished,
            p->total, all, eta, stage, one, step, steps, per_step);
    fflush(stderr);
}

int sdc_batch_progress_update(const char *stage, int step, int steps, void *user_data)
{
    sdc_batch_progress *p = user_data;
    double now = sdc_now_seconds(), dt = now - p->tick;
    p->tick = now;
    /* a stage's step 0 ends the setup before it; later steps end that stage's work */
    if (p->timings)
        sdc_batch_timings_add(p->timings, step > 0 ? stage : "other", dt);
    snprintf(p->stage, sizeof p->stage, "%s", stage);
    if (!p->quiet && p->is_tty && steps > 0)
        draw(p, stage, step, steps, step > 0 ? dt : 0);
    return sdc_signal_received() != 0;
}

int sdc_batch_progress_preview(const uint8_t *rgb, int width, int height, int step, int steps,
                               void *user_data)
{
    sdc_batch_progress *p = user_data;
    (void)step, (void)steps;
    sdc_cli_preview_write(&p->preview, rgb, width, height);
    return sdc_signal_received() != 0;
}

void sdc_batch_progress_end_generate(sdc_batch_progress *p)
{
    double now = sdc_now_seconds();
    if (p->timings)
        sdc_batch_timings_add(p->timings, "other", now - p->tick);
    p->tick = now;
}

void sdc_batch_progress_message(sdc_batch_progress *p, const char *fmt, ...)
{
    if (p->is_tty && !p->quiet)
        fputs("\r\033[K", stderr);
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    va_end(ap);
    /* job fields and names come from the job file: printed with their controls escaped */
    sdc_fputs_escaped(text ? text : "(out of memory)", stderr, 0);
    free(text);
    fputc('\n', stderr);
    fflush(stderr);
}

void sdc_batch_progress_finish(sdc_batch_progress *p, const char *status, const char *output,
                               uint64_t seed, double seconds, int rendered)
{
    p->finished++;
    if (rendered) {
        p->rendered++;
        p->render_seconds += seconds;
    }
    if (p->quiet)
        return;
    char eta[32];
    duration(eta, sizeof eta, sdc_batch_progress_eta(p));
    sdc_batch_progress_message(p, "[%d/%d] %s %s (seed %llu) %.2fs, ETA %s", p->finished,
                               p->total, status, output ? output : "-",
                               (unsigned long long)seed, seconds, eta);
}
