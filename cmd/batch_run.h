/* Running the jobs of `sdc batch`: keeps at most one model loaded (reloading only when a job
 * names another), renders each image of a job, writes it atomically, skips finished images
 * on --resume, and reports every image to the progress display and the report. */
#ifndef SDC_CMD_BATCH_RUN_H
#define SDC_CMD_BATCH_RUN_H

#include <stdio.h>

#include "cmd/batch_grid.h"
#include "cmd/batch_jobs.h"
#include "cmd/batch_progress.h"
#include "cmd/batch_report.h"

typedef struct sdc_batch_run {
    /* settings */
    const char *job_file;    /* for messages ("-" reads as "stdin") */
    int resume, verbose;
    int fail_fast;           /* stop at the first failed image */
    FILE *report;            /* NULL: no report */
    const char *report_path;
    int collect_grid;
    /* state */
    sdc_batch_progress progress;
    sdc_batch_summary summary;
    sdc_model *model;
    sdc_model *refiner;   /* the jobs' --refiner, loaded with the model */
    sdc_model *hr_model;  /* the jobs' --hr-upscaler model, loaded with the model */
    const sdc_cli_options *model_opt; /* the options the loaded model came from */
    char model_hash[11];              /* computed at load: a file that cannot be hashed
                                         fails as its load */
    double unreported_load;           /* load seconds, reported with the next image */
    const sdc_cli_options *failed_opt; /* the last model that failed to load, and why */
    char *failed_error;
    sdc_batch_grid_item *grid;        /* done and skipped images (paths and params owned) */
    int grid_count, grid_cap;
    int report_failed;
    int disk_full;        /* an image or the report found no space: the run stops at once */
} sdc_batch_run;

void sdc_batch_run_init(sdc_batch_run *r, const char *job_file, int quiet, int total_images);
/* Records a job that could not be parsed (its error is printed and reported). */
void sdc_batch_run_bad_job(sdc_batch_run *r, const sdc_batch_job *job);
/* Renders every image of a valid job: a failed image is reported and the next one tried,
 * unless fail_fast is set or the disk is full. Returns SDC_OK, SDC_ERR_INTERRUPTED, or the
 * status of the job's first failure (already printed and reported). */
sdc_status sdc_batch_run_job(sdc_batch_run *r, const sdc_batch_job *job);
void sdc_batch_run_free(sdc_batch_run *r);

#endif
