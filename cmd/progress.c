#include "cmd/progress.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t received_signal;

static void on_signal(int sig) { received_signal = sig; }

void sdc_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int sdc_signal_received(void) { return (int)received_signal; }

/* Warnings always, information with -v; on a terminal the progress bar's line is cleared
 * first (the bar is redrawn at the next step). */
static void on_log(sdc_log_level level, const char *message, void *user_data)
{
    int verbose = user_data != NULL;
    if (level == SDC_LOG_INFO && !verbose)
        return;
    fprintf(stderr, "%s%s%s\n", isatty(STDERR_FILENO) ? "\r\033[K" : "",
            level == SDC_LOG_WARNING ? "sdc: warning: " : "", message);
}

void sdc_cli_log_install(int verbose)
{
    static int verbose_flag;
    sdc_set_log(on_log, verbose ? &verbose_flag : NULL);
}

double sdc_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *const stage_names[SDC_STAGE_COUNT] = {"text", "sampling", "decoding"};

static int stage_index(const char *stage)
{
    for (int i = 0; i < SDC_STAGE_COUNT; i++)
        if (strcmp(stage, stage_names[i]) == 0)
            return i;
    return -1;
}

void sdc_progress_init(sdc_progress *p, int quiet, int verbose)
{
    memset(p, 0, sizeof *p);
    p->quiet = quiet;
    p->verbose = verbose && !quiet;
    p->is_tty = isatty(STDERR_FILENO);
    p->image_count = 1;
}

static void draw(const sdc_progress *p, int step, int steps, double elapsed)
{
    double per = step > 0 ? elapsed / step : 0;
    double eta = per * (steps - step);
    char prefix[48] = "";
    if (p->image_count > 1)
        snprintf(prefix, sizeof prefix, "[%d/%d] ", p->image_index + 1, p->image_count);
    if (p->is_tty) {
        enum { WIDTH = 30 };
        char bar[WIDTH + 1];
        int filled = steps > 0 ? step * WIDTH / steps : WIDTH;
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < filled ? '#' : '-';
        bar[WIDTH] = '\0';
        fprintf(stderr, "\r%s%-9s |%s| %d/%d %.2fs/it ETA %.0fs ", prefix, p->stage, bar, step,
                steps, per, eta);
        if (step == steps)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s%s %d/%d %.2fs/it\n", prefix, p->stage, step, steps, per);
    }
    fflush(stderr);
}

/* The largest resident set so far, in MiB: with -v each stage's end says it, so the stage
 * that set the run's peak can be told. */
static double peak_rss_so_far(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024.0 : 0.0;
}

int sdc_progress_update(const char *stage, int step, int steps, void *user_data)
{
    sdc_progress *p = user_data;
    if (strncmp(p->stage, stage, sizeof p->stage - 1) != 0 || step == 0) {
        snprintf(p->stage, sizeof p->stage, "%s", stage);
        p->stage_start = sdc_now_seconds();
    }
    double elapsed = sdc_now_seconds() - p->stage_start;
    int index = stage_index(stage);
    if (step == steps && index >= 0)
        p->stage_seconds[index] += elapsed;
    if (index == SDC_STAGE_SAMPLING && !p->quiet && steps > 0) /* the only stage long enough */
        draw(p, step, steps, elapsed);                             /* for a bar */
    if (p->verbose && step == steps && steps > 0)
        fprintf(stderr, "%s %.2fs, peak RSS so far %.0f MiB\n", stage, elapsed,
                peak_rss_so_far());
    return received_signal != 0;
}

int sdc_progress_preview(const uint8_t *rgb, int width, int height, int step, int steps,
                         void *user_data)
{
    sdc_progress *p = user_data;
    (void)step, (void)steps;
    sdc_cli_preview_write(&p->preview, rgb, width, height);
    return received_signal != 0;
}

void sdc_progress_print_totals(const sdc_progress *p, int steps_done)
{
    double sampling = p->stage_seconds[SDC_STAGE_SAMPLING];
    fprintf(stderr, "time: text %.2fs, sampling %.2fs (%.3fs/step), decoding %.2fs\n",
            p->stage_seconds[SDC_STAGE_TEXT], sampling,
            steps_done > 0 ? sampling / steps_done : 0.0, p->stage_seconds[SDC_STAGE_DECODING]);
}
