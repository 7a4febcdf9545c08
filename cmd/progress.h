/* Progress on stderr: a redrawn bar (step i/N, s/it, ETA) on a terminal, plain lines
 * otherwise, nothing when quiet. Also the Ctrl-C / SIGTERM flag that stops generation. */
#ifndef SDC_CMD_PROGRESS_H
#define SDC_CMD_PROGRESS_H

#include <signal.h>

#include "cmd/preview.h"
#include "sdc.h"

/* Stages the library reports, in order; their times add up over a run. */
enum { SDC_STAGE_TEXT, SDC_STAGE_SAMPLING, SDC_STAGE_DECODING, SDC_STAGE_COUNT };

typedef struct sdc_progress {
    int quiet;
    int verbose;        /* print each stage's time when it ends */
    int is_tty;
    int image_index, image_count;
    double stage_start; /* seconds, monotonic */
    char stage[32];
    double stage_seconds[SDC_STAGE_COUNT]; /* totals over all images so far */
    sdc_cli_preview preview; /* --preview-path, or path NULL */
} sdc_progress;

void sdc_progress_init(sdc_progress *p, int quiet, int verbose);
/* "text 0.12s, sampling 3.40s (0.17s/step), decoding 0.50s" totals, for -v. */
void sdc_progress_print_totals(const sdc_progress *p, int steps_done);
/* An sdc_progress_fn: user_data is the sdc_progress. Returns non-zero after a signal. */
int sdc_progress_update(const char *stage, int step, int steps, void *user_data);

/* An sdc_preview_fn: writes the preview to p->preview.path. Returns non-zero after a
 * signal. */
int sdc_progress_preview(const uint8_t *rgb, int width, int height, int step, int steps,
                         void *user_data);

/* Signal handling: SIGINT/SIGTERM set the stop flag (0 when none arrived). */
void sdc_signals_install(void);
int sdc_signal_received(void);
/* Library warnings and (with verbose) information to stderr, clear of the progress bar. */
void sdc_cli_log_install(int verbose);

double sdc_now_seconds(void);

#endif
