/* The JSON Lines report of `sdc batch --report FILE`: one line per image (or per job that
 * could not run) and a summary line at the end.
 *
 *   {"job":3,"line":5,"image":0,"status":"done","output":"out/00003-42.png","seed":42,
 *    "parameters":{"prompt":"a fox","steps":20,...},"timings":{"sampling":1.9,...}}
 *   {"summary":{"jobs":50,"images":50,"done":48,"skipped":0,"failed":2,...}}
 *
 * "parameters" uses the command line's long option names, so it is itself a valid job line
 * that renders that image again. */
#ifndef SDC_CMD_BATCH_REPORT_H
#define SDC_CMD_BATCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cmd/batch_jobs.h"

#define SDC_BATCH_STAGES 8

/* Seconds spent on one image. Stages are the library's progress stages ("text",
 * "sampling", "decoding"); time between them (setup, compositing) is "other". */
typedef struct sdc_batch_timings {
    double model_load; /* > 0 when this image's job loaded a model */
    double generate;   /* the whole sdc_generate call */
    double write;      /* PNG encoding and the atomic write */
    double total;
    int stages;
    char stage_name[SDC_BATCH_STAGES][16];
    double stage_seconds[SDC_BATCH_STAGES];
} sdc_batch_timings;

/* Adds seconds to the named stage's total. */
void sdc_batch_timings_add(sdc_batch_timings *t, const char *stage, double seconds);
double sdc_batch_timings_get(const sdc_batch_timings *t, const char *stage);

typedef struct sdc_batch_record {
    const sdc_batch_job *job;
    int image;             /* -1 for a job that failed before any image */
    const char *status;    /* "done", "skipped", "failed" or "interrupted" */
    const char *output;    /* may be NULL */
    uint64_t seed;
    const char *error;     /* NULL unless failed */
    const sdc_batch_timings *timings; /* NULL for none */
    const char *redone;    /* --resume rendered an existing image again: why, else NULL */
} sdc_batch_record;

typedef struct sdc_batch_summary {
    int jobs, images, done, skipped, failed;
    int model_loads;
    int interrupted;
    int shard, shards;
    double seconds;
} sdc_batch_summary;

/* The parameters of one image as a job object (NULL when out of memory). */
json_t *sdc_batch_params_json(const sdc_cli_options *o, uint64_t seed);
json_t *sdc_batch_record_json(const sdc_batch_record *r);
json_t *sdc_batch_summary_json(const sdc_batch_summary *s);
/* Writes `line` on one line of f at once, so the report survives an interruption; a line
 * that cannot be written whole (disk full) is cut off again, so the report never ends in a
 * truncated record. Takes ownership of `line`. Returns 0, or -1 with errno set. */
int sdc_batch_report_line(FILE *f, json_t *line);

#endif
