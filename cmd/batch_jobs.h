/* Job files of `sdc batch`: JSON Lines whose keys are the command line's long option names
 * ({"prompt": "a fox", "seed": 7, "cfg-scale": 5}), or plain text with one prompt per line.
 * Blank lines and lines starting with '#' are skipped in both. Every job starts from the
 * options given on the command line, so those are defaults for the whole file. */
#ifndef SDC_CMD_BATCH_JOBS_H
#define SDC_CMD_BATCH_JOBS_H

#include <stddef.h>

#include <jansson.h>

#include "cmd/options.h"

/* Caps on a job file, so a stream without end (/dev/zero, `yes`) is an error in
 * milliseconds: one line, and the whole file. */
enum { SDC_BATCH_MAX_LINE = 1 << 20, SDC_BATCH_MAX_FILE = 64 << 20 };

typedef enum sdc_batch_format {
    SDC_BATCH_FORMAT_AUTO, /* JSON Lines when the first job line starts with '{' */
    SDC_BATCH_FORMAT_JSON,
    SDC_BATCH_FORMAT_TEXT,
} sdc_batch_format;

typedef struct sdc_batch_job {
    int index;           /* 0-based among the file's jobs: shards and {index} use it */
    int line;            /* 1-based line of the file */
    char *error;         /* why the job cannot run (owned), NULL when it can */
    sdc_cli_options opt; /* the defaults overridden by the job's keys; seed resolved */
    char **outputs;      /* [opt.batch_count] paths (owned); only valid when error is NULL */
    /* What opt's strings point into: */
    json_t *json;        /* the parsed line (JSON Lines) */
    char *text;          /* the prompt (plain text) */
    char **owned;        /* values converted from JSON numbers and arrays */
    int owned_count;
} sdc_batch_job;

typedef struct sdc_batch_jobs {
    sdc_batch_job *items;
    int count;
} sdc_batch_jobs;

/* Parses a job file's text. `defaults` must outlive the jobs (they point into it);
 * without `trust` (--trust-jobs) a line may not name an "output" outside output_dir, an
 * absolute "model" / "vae" / "refiner" / "vocab" path, nor set "overwrite": true;
 * defaults->gen.prompt NULL means every job needs a prompt, defaults->output NULL means the
 * default name template. Bad lines become jobs with `error` set; output names are checked
 * for collisions over the whole file, so every shard sees the same names and errors.
 * Fails only when out of memory. */
sdc_status sdc_batch_jobs_parse(const char *text, size_t len, sdc_batch_format format,
                                const sdc_cli_options *defaults, const char *output_dir,
                                int trust, sdc_batch_jobs *jobs);
/* Reads `path` ("-" = standard input; .txt forces plain text, .jsonl / .json / .ndjson JSON
 * Lines) within the caps above and parses it. */
sdc_status sdc_batch_jobs_read(const char *path, const sdc_cli_options *defaults,
                               const char *output_dir, int trust, sdc_batch_jobs *jobs);
void sdc_batch_jobs_free(sdc_batch_jobs *jobs);
/* The format a file's name says (.txt, .jsonl / .json / .ndjson), else AUTO. */
sdc_batch_format sdc_batch_format_of(const char *path);

/* The pieces of sdc_batch_jobs_parse, for reading a stream line by line (cmd/batch_stream.h):
 * whether a line is blank or a '#' comment; one job line parsed into `job` (index and line
 * set by the caller); an error set on a job (the first one wins); a job's memory freed. */
int sdc_batch_line_is_blank(const char *line, size_t len);
void sdc_batch_job_parse_line(sdc_batch_job *job, const char *line, size_t n,
                              sdc_batch_format format, const sdc_cli_options *defaults,
                              const char *output_dir, int trust);
void sdc_batch_job_error(sdc_batch_job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sdc_batch_job_clear(sdc_batch_job *job);

/* "K/N" with 0 <= K < N. Returns 0, or -1 when malformed. */
int sdc_batch_shard_parse(const char *text, int *shard, int *shards);
/* Whether job `index` belongs to shard K of N (index % N == K). */
int sdc_batch_in_shard(int index, int shard, int shards);

#endif
