/* A job file read as it arrives (standard input, a pipe, a FIFO): each job is parsed when its
 * line is complete, so rendering starts with the first line instead of after the last. The
 * caps of a whole file (cmd/batch_jobs.h) hold while reading; output names are checked
 * against those of earlier lines. */
#ifndef SDC_CMD_BATCH_STREAM_H
#define SDC_CMD_BATCH_STREAM_H

#include <stdio.h>

#include "cmd/batch_jobs.h"

typedef struct sdc_batch_stream {
    FILE *in;
    const char *name;                  /* for messages */
    const sdc_cli_options *defaults;   /* must outlive the jobs */
    const char *output_dir;
    int trust;
    sdc_batch_format format;           /* AUTO until the first job line */
    int line, index;
    size_t total;                      /* bytes read */
    json_t *seen;                      /* output path -> line of its job */
    char *buf;                         /* the current line */
    size_t cap;
} sdc_batch_stream;

/* Reads from `in` (not closed here); `name` says where from in messages. */
sdc_status sdc_batch_stream_open(sdc_batch_stream *s, FILE *in, const char *name,
                                 sdc_batch_format format, const sdc_cli_options *defaults,
                                 const char *output_dir, int trust);
/* The next job (*job malloc'd; free with sdc_batch_job_clear and free), or *job NULL at the
 * end. A bad line is a job with `error` set; only a cap passed, a read error or no memory
 * fail (the message says which). */
sdc_status sdc_batch_stream_next(sdc_batch_stream *s, sdc_batch_job **job);
void sdc_batch_stream_close(sdc_batch_stream *s);

#endif
