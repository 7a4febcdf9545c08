/* Progress of `sdc batch` on stderr. On a terminal, one redrawn line with the overall bar
 * (images finished / total, ETA) and the current image's stage bar (step i/N, s/it);
 * otherwise one plain line per finished image; nothing but errors when quiet. It also
 * measures the stages of each image for the report. */
#ifndef SDC_CMD_BATCH_PROGRESS_H
#define SDC_CMD_BATCH_PROGRESS_H

#include "cmd/batch_report.h"
#include "cmd/preview.h"

typedef struct sdc_batch_progress {
    int quiet, is_tty;
    int total;             /* images this run renders or skips */
    int finished;          /* done, skipped or failed so far */
    int rendered;          /* images rendered, and the seconds they took: the ETA's rate */
    double render_seconds;
    double tick;           /* time of the last progress callback */
    char stage[16];
    sdc_batch_timings *timings; /* the current image's, or NULL */
    sdc_cli_preview preview;    /* the current job's --preview-path, or path NULL */
} sdc_batch_progress;

void sdc_batch_progress_init(sdc_batch_progress *p, int quiet, int total);
/* Starts measuring an image into *t (zeroed by the caller). */
void sdc_batch_progress_begin(sdc_batch_progress *p, sdc_batch_timings *t);
/* An sdc_progress_fn: user_data is the sdc_batch_progress. Returns non-zero after SIGINT or
 * SIGTERM so the image stops. */
int sdc_batch_progress_update(const char *stage, int step, int steps, void *user_data);
/* An sdc_preview_fn: writes the preview to p->preview.path. Returns non-zero after SIGINT
 * or SIGTERM. */
int sdc_batch_progress_preview(const uint8_t *rgb, int width, int height, int step, int steps,
                               void *user_data);
/* Ends the current image: the time since the last callback becomes "other". */
void sdc_batch_progress_end_generate(sdc_batch_progress *p);
/* Counts a finished image and prints its line ("done out/a.png (seed 42) 1.23s").
 * `rendered` tells whether it took a real render (the ETA's rate). */
void sdc_batch_progress_finish(sdc_batch_progress *p, const char *status, const char *output,
                               uint64_t seed, double seconds, int rendered);
/* Prints a message on a line of its own (clearing the bar first). */
void sdc_batch_progress_message(sdc_batch_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Seconds left at the current rate (-1 when unknown). */
double sdc_batch_progress_eta(const sdc_batch_progress *p);

#endif
