#include "cmd/batch_stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"

sdc_status sdc_batch_stream_open(sdc_batch_stream *s, FILE *in, const char *name,
                                 sdc_batch_format format, const sdc_cli_options *defaults,
                                 const char *output_dir, int trust)
{
    memset(s, 0, sizeof *s);
    s->in = in;
    s->name = name;
    s->format = format;
    s->defaults = defaults;
    s->output_dir = output_dir;
    s->trust = trust;
    s->seen = json_object();
    return s->seen ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", name);
}

void sdc_batch_stream_close(sdc_batch_stream *s)
{
    json_decref(s->seen);
    free(s->buf);
    memset(s, 0, sizeof *s);
}

static sdc_status append(sdc_batch_stream *s, size_t n, int c)
{
    if (n + 1 >= s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4096;
        char *grown = realloc(s->buf, cap);
        if (!grown)
            return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", s->name);
        s->buf = grown;
        s->cap = cap;
    }
    s->buf[n] = (char)c;
    return SDC_OK;
}

/* One line into s->buf (without its '\n'; a final CR dropped), within the caps; *len is
 * SIZE_MAX at the end of the stream. */
static sdc_status read_line(sdc_batch_stream *s, size_t *len)
{
    size_t n = 0;
    int c;
    while ((c = getc(s->in)) != EOF && c != '\n') {
        if (n >= SDC_BATCH_MAX_LINE)
            return sdc_fail(SDC_ERR_ARG, "%s: a line longer than %d KiB; is it a job file?",
                            s->name, SDC_BATCH_MAX_LINE >> 10);
        if (++s->total > SDC_BATCH_MAX_FILE)
            return sdc_fail(SDC_ERR_ARG, "%s: job file larger than %d MiB; split it", s->name,
                            SDC_BATCH_MAX_FILE >> 20);
        sdc_status st = append(s, n++, c);
        if (st != SDC_OK)
            return st;
    }
    if (ferror(s->in))
        return sdc_fail(SDC_ERR_IO, "%s: cannot read", s->name);
    *len = c == EOF && n == 0 ? SIZE_MAX : n;
    if (n && s->buf[n - 1] == '\r')
        n--, (*len)--;
    if (s->line == 0 && n >= 3 && memcmp(s->buf, "\xef\xbb\xbf", 3) == 0) { /* UTF-8 BOM */
        memmove(s->buf, s->buf + 3, n - 3);
        *len -= 3;
    }
    return append(s, *len == SIZE_MAX ? 0 : *len, '\0');
}

/* Output names equal to an earlier line's (or to another image's of the job) are errors,
 * as in a whole file (sdc_batch_jobs_parse). */
static void check_names(sdc_batch_stream *s, sdc_batch_job *job)
{
    for (int i = 0; !job->error && i < job->opt.batch_count; i++) {
        json_t *earlier = json_object_get(s->seen, job->outputs[i]);
        if (earlier && json_integer_value(earlier) == job->line)
            sdc_batch_job_error(job, "two images of the job would both be '%s'",
                                job->outputs[i]);
        else if (earlier)
            sdc_batch_job_error(job, "output '%s' is already the output of line %d",
                                job->outputs[i], (int)json_integer_value(earlier));
        else
            json_object_set_new(s->seen, job->outputs[i], json_integer(job->line));
    }
}

sdc_status sdc_batch_stream_next(sdc_batch_stream *s, sdc_batch_job **out)
{
    *out = NULL;
    for (;;) {
        size_t n = SIZE_MAX;
        sdc_status st = read_line(s, &n);
        if (st != SDC_OK || n == SIZE_MAX)
            return st;
        s->line++;
        if (sdc_batch_line_is_blank(s->buf, n))
            continue;
        if (s->format == SDC_BATCH_FORMAT_AUTO) { /* decided by the first job line */
            const char *p = s->buf + strspn(s->buf, " \t");
            s->format = *p == '{' ? SDC_BATCH_FORMAT_JSON : SDC_BATCH_FORMAT_TEXT;
        }
        sdc_batch_job *job = calloc(1, sizeof *job);
        if (!job)
            return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", s->name);
        job->index = s->index++;
        job->line = s->line;
        sdc_batch_job_parse_line(job, s->buf, n, s->format, s->defaults, s->output_dir,
                                 s->trust);
        if (!job->error)
            check_names(s, job);
        *out = job;
        return SDC_OK;
    }
}
