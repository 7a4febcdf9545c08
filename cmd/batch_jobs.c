#include "cmd/batch_jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cmd/batch_template.h"
#include "cmd/demo_model.h"
#include "image/image.h"
#include "ops/error.h"

/* Options of the whole run, not of one job. */
static const char *const run_keys[] = {"quiet", "verbose", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

static void vjob_error(sdc_batch_job *job, const char *fmt, va_list ap)
{
    if (!job->error && vasprintf(&job->error, fmt, ap) < 0)
        job->error = NULL;
}

/* Sets job->error from a printf-style message (the first error wins). */
static void job_error(sdc_batch_job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void job_error(sdc_batch_job *job, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vjob_error(job, fmt, ap);
    va_end(ap);
}

void sdc_batch_job_error(sdc_batch_job *job, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vjob_error(job, fmt, ap);
    va_end(ap);
}

static const char *own(sdc_batch_job *job, char *s)
{
    if (!s)
        return NULL;
    char **grown = realloc(job->owned, (size_t)(job->owned_count + 1) * sizeof *grown);
    if (!grown) {
        free(s);
        return NULL;
    }
    job->owned = grown;
    job->owned[job->owned_count++] = s;
    return s;
}

static char *number_text(const json_t *v)
{
    char buf[64];
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
    return strdup(buf);
}

/* [1.5, 1.6, 0.9, 0.2] -> "1.5,1.6,0.9,0.2" (freeu); NULL when an element is not a number. */
static char *array_text(const json_t *arr)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    size_t i;
    const json_t *v;
    int ok = 1;
    json_array_foreach(arr, i, v) {
        char *n = json_is_number(v) ? number_text(v) : NULL;
        ok = ok && n;
        if (n)
            fprintf(f, "%s%s", i ? "," : "", n);
        free(n);
    }
    if (fclose(f) != 0 || !ok) {
        free(text);
        return NULL;
    }
    return text;
}

/* The option text of a JSON value; *skip for null (keep the default). */
static const char *value_text(sdc_batch_job *job, const char *key, const json_t *v, int *skip)
{
    *skip = json_is_null(v);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_true(v) || json_is_false(v))
        return json_is_true(v) ? "true" : "false";
    if (json_is_number(v))
        return own(job, number_text(v));
    if (json_is_array(v)) {
        const char *s = own(job, array_text(v));
        if (!s)
            job_error(job, "key '%s': only arrays of numbers are accepted", key);
        return s;
    }
    if (!*skip)
        job_error(job, "key '%s': objects are not accepted", key);
    return NULL;
}

/* A path that leaves the folder it is relative to: absolute, or with a ".." part. */
static int escapes(const char *path)
{
    if (path[0] == '/')
        return 1;
    for (const char *p = path; (p = strstr(p, "..")); p += 2)
        if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
            return 1;
    return 0;
}

/* Job files may come from strangers (docs/FUZZING.md): without --trust-jobs a line may not
 * write outside --output-dir, load a model by absolute path nor replace existing files. */
static int untrusted(sdc_batch_job *job, const char *key, const char *text)
{
    static const char *const model_keys[] = {"model", "vae", "taesd", "refiner", "vocab",
                                              NULL};
    if (strcmp(key, "output") == 0 && escapes(text))
        job_error(job, "\"output\": '%s' leaves --output-dir (allowed with --trust-jobs)", text);
    else if (in_list(key, model_keys) && text[0] == '/')
        job_error(job, "\"%s\": an absolute path needs --trust-jobs", key);
    else if (strcmp(key, "overwrite") == 0 && strcmp(text, "true") == 0)
        job_error(job, "\"overwrite\": true needs --trust-jobs");
    return job->error != NULL;
}

static void apply_key(sdc_batch_job *job, const char *key, const json_t *v, int trust)
{
    if (in_list(key, run_keys)) {
        job_error(job, "'%s' applies to the whole run; give it on the command line", key);
        return;
    }
    int skip;
    const char *text = value_text(job, key, v, &skip);
    if (skip || job->error)
        return;
    if (!text) {
        job_error(job, "out of memory");
        return;
    }
    if (!trust && untrusted(job, key, text))
        return;
    if (sdc_cli_set(&job->opt, key, text) != 0)
        job_error(job, "%s", sdc_last_error());
}

static void parse_json_line(sdc_batch_job *job, const char *line, size_t len, int trust)
{
    json_error_t err;
    job->json = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
    if (!job->json) {
        job_error(job, "invalid JSON: %s (column %d)", err.text, err.column);
        return;
    }
    if (!json_is_object(job->json)) {
        job_error(job, "a job is a JSON object {\"prompt\": ...}");
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(job->json, key, v) {
        apply_key(job, key, v, trust);
        if (job->error)
            return;
    }
}

static void parse_text_line(sdc_batch_job *job, const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    job->text = strndup(line, len);
    if (!job->text)
        job_error(job, "out of memory");
    job->opt.gen.prompt = job->text;
}

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed)
        seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
    if (fd >= 0)
        close(fd);
    return seed & 0xffffffffu; /* a seed people can type back */
}

static char *join_dir(const char *dir, const char *name)
{
    if (!dir || !*dir || name[0] == '/')
        return strdup(name);
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    return path;
}

static void make_outputs(sdc_batch_job *job, const char *output_dir)
{
    const sdc_cli_options *o = &job->opt;
    const char *tmpl = o->output ? o->output : SDC_BATCH_DEFAULT_TEMPLATE;
    job->outputs = calloc((size_t)o->batch_count, sizeof *job->outputs);
    if (!job->outputs) {
        job_error(job, "out of memory");
        return;
    }
    for (int i = 0; i < o->batch_count && !job->error; i++) {
        sdc_batch_name_fields f = {job->index, i, o->gen.seed + (uint64_t)i, o->gen.prompt,
                                   o->model};
        char *name;
        if (sdc_batch_name_expand(tmpl, &f, &name) != SDC_OK) {
            job_error(job, "%s", sdc_last_error());
            break;
        }
        if (sdc_image_check_output_name(name) != SDC_OK)
            job_error(job, "output name %s", sdc_last_error());
        job->outputs[i] = join_dir(output_dir, name);
        free(name);
        if (!job->outputs[i])
            job_error(job, "out of memory");
    }
}

static void check_file(sdc_batch_job *job, const char *what, const char *path)
{
    if (path && access(path, R_OK) != 0)
        job_error(job, "%s '%s': %s", what, path, strerror(errno));
}

/* A job without a model, or with model "demo", uses the built-in demo model (said once). */
static void use_demo_model(sdc_batch_job *job)
{
    static char path[4096];
    static int announced;
    if (sdc_demo_model_apply(&job->opt, path, sizeof path, !announced) != SDC_OK)
        job_error(job, "%s", sdc_last_error());
    announced |= job->opt.model == path;
}

/* Whole-job checks once every key is applied: what sdc_cli_parse checks, plus the files. */
static void finish_job(sdc_batch_job *job, const char *output_dir)
{
    sdc_cli_options *o = &job->opt;
    if (!o->gen.prompt)
        job_error(job, "no prompt (a \"prompt\" key, or -p on the command line)");
    use_demo_model(job);
    if (!job->error && sdc_cli_check(o) != 0)
        job_error(job, "%s", sdc_last_error());
    check_file(job, "model", o->model);
    check_file(job, "init-img", o->init_img);
    check_file(job, "mask", o->mask);
    if (job->error)
        return;
    if (o->seed_random) {
        o->gen.seed = random_seed();
        o->seed_random = 0;
    }
    make_outputs(job, output_dir);
}

/* Output names of the whole file, for the collision check. */
typedef struct name_ref {
    const char *path;
    int job;
} name_ref;

static int compare_names(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : x->job - y->job;
}

/* A later job whose output equals an earlier one's is an error: nothing gets overwritten and
 * no image is lost, whichever shard runs which job. */
static sdc_status check_collisions(sdc_batch_jobs *jobs)
{
    size_t n = 0;
    for (int j = 0; j < jobs->count; j++)
        if (!jobs->items[j].error)
            n += (size_t)jobs->items[j].opt.batch_count;
    name_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    if (!refs)
        return sdc_fail(SDC_ERR_NOMEM, "job file: out of memory");
    size_t k = 0;
    for (int j = 0; j < jobs->count; j++)
        for (int i = 0; !jobs->items[j].error && i < jobs->items[j].opt.batch_count; i++)
            refs[k++] = (name_ref){jobs->items[j].outputs[i], j};
    qsort(refs, n, sizeof *refs, compare_names);
    for (size_t i = 1; i < n; i++) {
        if (refs[i].job == refs[i - 1].job && strcmp(refs[i].path, refs[i - 1].path) == 0) {
            job_error(&jobs->items[refs[i].job], "two images of the job would both be '%s'",
                      refs[i].path);
        } else if (strcmp(refs[i].path, refs[i - 1].path) == 0) {
            job_error(&jobs->items[refs[i].job], "output '%s' is already the output of line %d",
                      refs[i].path, jobs->items[refs[i - 1].job].line);
        }
    }
    free(refs);
    return SDC_OK;
}

void sdc_batch_job_parse_line(sdc_batch_job *job, const char *line, size_t n,
                              sdc_batch_format format, const sdc_cli_options *defaults,
                              const char *output_dir, int trust)
{
    while (n > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        n--;
    }
    job->opt = *defaults;
    if (format == SDC_BATCH_FORMAT_JSON)
        parse_json_line(job, line, n, trust);
    else
        parse_text_line(job, line, n);
    if (!job->error)
        finish_job(job, output_dir);
}

int sdc_batch_line_is_blank(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return i == len || line[i] == '#';
}

static sdc_batch_format sniff(const char *text, size_t len)
{
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (!sdc_batch_line_is_blank(text + pos, end - pos)) {
            while (text[pos] == ' ' || text[pos] == '\t')
                pos++;
            return text[pos] == '{' ? SDC_BATCH_FORMAT_JSON : SDC_BATCH_FORMAT_TEXT;
        }
        pos = end + 1;
    }
    return SDC_BATCH_FORMAT_TEXT;
}

static sdc_batch_job *add_job(sdc_batch_jobs *jobs, size_t *cap)
{
    if ((size_t)jobs->count == *cap) {
        size_t n = *cap ? *cap * 2 : 64;
        sdc_batch_job *grown = realloc(jobs->items, n * sizeof *grown);
        if (!grown)
            return NULL;
        jobs->items = grown;
        *cap = n;
    }
    sdc_batch_job *job = &jobs->items[jobs->count];
    memset(job, 0, sizeof *job);
    job->index = jobs->count++;
    return job;
}

sdc_status sdc_batch_jobs_parse(const char *text, size_t len, sdc_batch_format format,
                                const sdc_cli_options *defaults, const char *output_dir,
                                int trust, sdc_batch_jobs *jobs)
{
    memset(jobs, 0, sizeof *jobs);
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) { /* UTF-8 byte order mark */
        text += 3;
        len -= 3;
    }
    if (format == SDC_BATCH_FORMAT_AUTO)
        format = sniff(text, len);
    size_t cap = 0;
    int line_no = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, n = end - pos;
        const char *line = text + pos;
        pos = end + 1;
        line_no++;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (sdc_batch_line_is_blank(line, n))
            continue;
        sdc_batch_job *job = add_job(jobs, &cap);
        if (!job) {
            sdc_batch_jobs_free(jobs);
            return sdc_fail(SDC_ERR_NOMEM, "job file: out of memory");
        }
        job->line = line_no;
        sdc_batch_job_parse_line(job, line, n, format, defaults, output_dir, trust);
    }
    sdc_status s = check_collisions(jobs);
    if (s != SDC_OK)
        sdc_batch_jobs_free(jobs);
    return s;
}

/* Whether the bytes just read, after `run` bytes of an unfinished line, hold a line longer
 * than the cap; updates run. */
static int line_too_long(const char *buf, size_t n, size_t *run)
{
    for (size_t i = 0; i < n; i++) {
        *run = buf[i] == '\n' ? 0 : *run + 1;
        if (*run > SDC_BATCH_MAX_LINE)
            return 1;
    }
    return 0;
}

/* Reads the whole file within the caps: `sdc batch /dev/zero` or `yes | sdc batch -` is an
 * error after a few megabytes, not a machine out of memory. */
static sdc_status read_all(const char *path, char **text, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    const char *name = f == stdin ? "stdin" : path;
    size_t cap = 1 << 16, n = 0, run = 0;
    char *buf = malloc(cap);
    sdc_status s = buf ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", name);
    while (s == SDC_OK) {
        if (n == cap) {
            char *grown = cap < SDC_BATCH_MAX_FILE ? realloc(buf, cap * 2) : NULL;
            if (!grown) {
                s = cap < SDC_BATCH_MAX_FILE
                        ? sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", name)
                        : sdc_fail(SDC_ERR_ARG, "%s: job file larger than %d MiB; split it",
                                   name, SDC_BATCH_MAX_FILE >> 20);
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (line_too_long(buf + n, got, &run))
            s = sdc_fail(SDC_ERR_ARG, "%s: a line longer than %d KiB; is it a job file?", name,
                         SDC_BATCH_MAX_LINE >> 10);
        n += got;
        if (got == 0) {
            if (ferror(f))
                s = sdc_fail(SDC_ERR_IO, "%s: cannot read: %s", name, strerror(errno));
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (s != SDC_OK) {
        free(buf);
        return s;
    }
    *text = buf;
    *len = n;
    return SDC_OK;
}

sdc_batch_format sdc_batch_format_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return SDC_BATCH_FORMAT_AUTO;
    if (strcasecmp(dot, ".txt") == 0)
        return SDC_BATCH_FORMAT_TEXT;
    if (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".json") == 0 ||
        strcasecmp(dot, ".ndjson") == 0)
        return SDC_BATCH_FORMAT_JSON;
    return SDC_BATCH_FORMAT_AUTO;
}

sdc_status sdc_batch_jobs_read(const char *path, const sdc_cli_options *defaults,
                               const char *output_dir, int trust, sdc_batch_jobs *jobs)
{
    char *text = NULL;
    size_t len = 0;
    memset(jobs, 0, sizeof *jobs);
    sdc_status s = read_all(path, &text, &len);
    if (s != SDC_OK)
        return s;
    s = sdc_batch_jobs_parse(text, len, sdc_batch_format_of(path), defaults, output_dir, trust, jobs);
    free(text);
    return s;
}

void sdc_batch_job_clear(sdc_batch_job *job)
{
    for (int i = 0; job->outputs && i < job->opt.batch_count; i++)
        free(job->outputs[i]);
    for (int i = 0; i < job->owned_count; i++)
        free(job->owned[i]);
    free(job->outputs);
    free(job->owned);
    free(job->error);
    free(job->text);
    json_decref(job->json);
    memset(job, 0, sizeof *job);
}

void sdc_batch_jobs_free(sdc_batch_jobs *jobs)
{
    for (int j = 0; j < jobs->count; j++)
        sdc_batch_job_clear(&jobs->items[j]);
    free(jobs->items);
    memset(jobs, 0, sizeof *jobs);
}

int sdc_batch_shard_parse(const char *text, int *shard, int *shards)
{
    char *end;
    errno = 0;
    long k = strtol(text, &end, 10);
    if (errno || end == text || *end != '/')
        return -1;
    const char *rest = end + 1;
    long n = strtol(rest, &end, 10);
    if (errno || end == rest || *end || n < 1 || n > 1000000 || k < 0 || k >= n)
        return -1;
    *shard = (int)k;
    *shards = (int)n;
    return 0;
}

int sdc_batch_in_shard(int index, int shard, int shards) { return index % shards == shard; }
