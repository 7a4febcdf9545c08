/* `sdc batch JOBFILE [options]`: renders every job of a file with one loaded model. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/batch_jobs.h"
#include "cmd/batch_run.h"
#include "cmd/batch_stream.h"
#include "cmd/batch_template.h"
#include "cmd/commands.h"
#include "cmd/progress.h"
#include "image/image.h"
#include "ops/error.h"

typedef struct batch_args {
    sdc_cli_options defaults; /* output: the name template (NULL = default) */
    const char *job_file, *output_dir, *report, *grid;
    int shard, shards, resume, fail_fast, trust_jobs;
} batch_args;

enum {
    OPT_OUTPUT_DIR = 2000, OPT_RESUME, OPT_REPORT, OPT_GRID, OPT_SHARD, OPT_FAIL_FAST,
    OPT_TRUST_JOBS
};

static const struct option batch_options[] = {
    {"output-dir", required_argument, 0, OPT_OUTPUT_DIR},
    {"resume", no_argument, 0, OPT_RESUME},
    {"report", required_argument, 0, OPT_REPORT},
    {"grid", required_argument, 0, OPT_GRID},
    {"shard", required_argument, 0, OPT_SHARD},
    {"fail-fast", no_argument, 0, OPT_FAIL_FAST},
    {"trust-jobs", no_argument, 0, OPT_TRUST_JOBS},
};
enum { BATCH_OPTIONS = sizeof batch_options / sizeof *batch_options };

static void print_help(FILE *out)
{
    fputs(
        "usage: sdc batch JOBFILE [options]\n"
        "\n"
        "Renders every job of JOBFILE with one loaded model. JOBFILE ('-' = standard input)\n"
        "holds JSON Lines whose keys are the long option names of 'sdc --help'\n"
        "  {\"prompt\": \"a red fox\", \"seed\": 7, \"cfg-scale\": 5, \"steps\": 30}\n"
        "or plain text, one prompt per line. Blank lines and '#' lines are skipped. The\n"
        "generation options of 'sdc --help' given here are defaults for every job; a job\n"
        "with no model (no \"model\" key, no -m) uses the built-in demo model.\n"
        "\n"
        "Batch options:\n"
        "  -o, --output TEMPLATE     output names (default " SDC_BATCH_DEFAULT_TEMPLATE "); fields\n"
        "                            {index} (job number in the file, from 0), {image} (number\n"
        "                            within the job's batch-count), {seed}, {prompt} (slug),\n"
        "                            {model}; {index:05} pads with zeros, {prompt:20} cuts\n"
        "      --output-dir DIR      folder for relative output names (created if missing)\n"
        "      --resume              skip images whose output is already a complete image\n"
        "      --shard K/N           run only the jobs whose index % N == K (0 <= K < N)\n"
        "      --report FILE         JSON Lines: one line per image, then a summary\n"
        "      --grid FILE           contact sheet PNG of the run, captioned with the\n"
        "                            parameters that vary\n"
        "      --fail-fast           stop at the first failed job (default: report it, go on)\n"
        "      --trust-jobs          let job lines write outside --output-dir, load models by\n"
        "                            absolute path and set \"overwrite\": true\n"
        "  -h, --help                this text\n"
        "\n"
        "Exit status: 0 every job done, 1 some job failed, 2 usage error, 130/143 interrupted\n"
        "(rerun with --resume to continue).\n",
        out);
}

static int usage(const char *message)
{
    fprintf(stderr, "sdc batch: %s\nTry 'sdc batch --help'.\n", message);
    return 2;
}

/* The batch options followed by every generation option (getopt_long needs one table). */
static struct option *merged_options(void)
{
    const struct option *cli = sdc_cli_option_table();
    size_t n = 0;
    while (cli[n].name)
        n++;
    struct option *all = calloc(BATCH_OPTIONS + n + 1, sizeof *all);
    if (all) {
        memcpy(all, batch_options, sizeof batch_options);
        memcpy(all + BATCH_OPTIONS, cli, n * sizeof *cli);
    }
    return all;
}

static const char *cli_name(int code)
{
    for (const struct option *o = sdc_cli_option_table(); o->name; o++)
        if (o->val == code)
            return o->name;
    return NULL;
}

/* Returns 0, 1 after --help / --version, 2 on a usage error (printed). */
static int apply(batch_args *a, int c, const char *arg)
{
    switch (c) {
    case OPT_OUTPUT_DIR: a->output_dir = arg; return 0;
    case OPT_RESUME: a->resume = 1; return 0;
    case OPT_REPORT: a->report = arg; return 0;
    case OPT_GRID: a->grid = arg; return 0;
    case OPT_FAIL_FAST: a->fail_fast = 1; return 0;
    case OPT_TRUST_JOBS: a->trust_jobs = 1; return 0;
    case OPT_SHARD:
        if (sdc_batch_shard_parse(arg, &a->shard, &a->shards) != 0) {
            fprintf(stderr, "sdc batch: --shard must be K/N with 0 <= K < N, not '%s'\n", arg);
            return 2;
        }
        return 0;
    case 'h': print_help(stdout); return 1;
    }
    const char *name = cli_name(c);
    if (name && strcmp(name, "version") == 0) {
        printf("sdc %s\n", SDC_VERSION);
        return 1;
    }
    if (!name || sdc_cli_set(&a->defaults, name, arg) != 0)
        return usage(name ? sdc_last_error() : "unknown option");
    return 0;
}

/* A template error shows now rather than on every job. */
static int check_template(const char *tmpl)
{
    sdc_batch_name_fields f = {0, 0, 42, "prompt", "model"};
    char *name;
    if (sdc_batch_name_expand(tmpl, &f, &name) != SDC_OK)
        return usage(sdc_last_error());
    free(name);
    return 0;
}

static int parse_args(int argc, char **argv, batch_args *a)
{
    memset(a, 0, sizeof *a);
    sdc_cli_defaults(&a->defaults);
    a->defaults.output = NULL;
    a->defaults.gen.prompt = NULL; /* each job needs one unless -p gives a default */
    a->shards = 1;
    struct option *options = merged_options();
    if (!options)
        return usage("out of memory");
    char shorts[64];
    snprintf(shorts, sizeof shorts, ":%s", sdc_cli_short_options());
    optind = 1;
    opterr = 0;
    int c, rc = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, shorts, options, NULL)) != -1) {
        if (c == '?' || c == ':') {
            fprintf(stderr, "sdc batch: %s '%s'\nTry 'sdc batch --help'.\n",
                    c == ':' ? "option needs a value:" : "unknown option", argv[optind - 1]);
            rc = 2;
        } else {
            rc = apply(a, c, optarg);
        }
    }
    free(options);
    if (rc)
        return rc;
    if (optind != argc - 1)
        return usage(optind >= argc ? "no job file given" : "more than one job file given");
    a->job_file = argv[optind];
    a->defaults.strength_given = 0; /* a default for the jobs that have an init image */
    return a->defaults.output ? check_template(a->defaults.output) : 0;
}

static int make_dir(const char *dir)
{
    if (!dir || mkdir(dir, 0777) == 0)
        return 0;
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    fprintf(stderr, "sdc batch: %s: cannot create folder\n", dir);
    return 1;
}

/* The same file, by name or by inode. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* An existing regular file; devices and pipes (/dev/null, /dev/stdout) are fine targets. */
static int existing_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode);
}

/* --report and --grid are checked before anything is rendered: they never replace the job
 * file or one of the run's own images, nor an existing file without --overwrite. */
static int check_extra_output(const char *flag, const char *path, const batch_args *a,
                              const sdc_batch_jobs *jobs)
{
    if (!path)
        return 0;
    if (strcmp(a->job_file, "-") != 0 && same_file(path, a->job_file)) {
        fprintf(stderr, "sdc batch: %s %s is the job file\n", flag, path);
        return 2;
    }
    for (int j = 0; j < jobs->count; j++) {
        const sdc_batch_job *job = &jobs->items[j];
        for (int i = 0; !job->error && i < job->opt.batch_count; i++)
            if (same_file(path, job->outputs[i])) {
                fprintf(stderr, "sdc batch: %s %s is the output of %s:%d\n", flag, path,
                        a->job_file, job->line);
                return 2;
            }
    }
    if (!a->defaults.overwrite && existing_file(path)) {
        fprintf(stderr, "sdc batch: %s %s: file exists (use --overwrite to replace it)\n",
                flag, path);
        return 2;
    }
    return 0;
}

static int check_extra_outputs(const batch_args *a, const sdc_batch_jobs *jobs)
{
    if (a->grid && sdc_image_check_output_name(a->grid) != SDC_OK) {
        fprintf(stderr, "sdc batch: --grid %s\n", sdc_last_error());
        return 2;
    }
    if (a->report && a->grid && same_file(a->report, a->grid)) {
        fprintf(stderr, "sdc batch: --report and --grid are the same file %s\n", a->grid);
        return 2;
    }
    return check_extra_output("--report", a->report, a, jobs) ||
           check_extra_output("--grid", a->grid, a, jobs);
}

/* The report is created anew (O_EXCL) unless --overwrite: checked above, and still no race. */
static FILE *open_report(const char *path, int overwrite)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
    if (overwrite)
        flags |= O_TRUNC;
    else if (access(path, F_OK) != 0)
        flags |= O_EXCL;
    int fd = open(path, flags, 0666);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "sdc batch: %s: cannot create the report: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    return f;
}

/* Images of the valid jobs in this shard, and its job count. */
static int count_images(const sdc_batch_jobs *jobs, const batch_args *a, int *job_count)
{
    int images = 0;
    *job_count = 0;
    for (int j = 0; j < jobs->count; j++) {
        const sdc_batch_job *job = &jobs->items[j];
        if (!sdc_batch_in_shard(job->index, a->shard, a->shards))
            continue;
        (*job_count)++;
        images += job->error ? 0 : job->opt.batch_count;
    }
    return images;
}

/* With --fail-fast a bad line stops the run before any image is rendered. */
static int report_bad_jobs(sdc_batch_run *r, const sdc_batch_jobs *jobs, const batch_args *a)
{
    int bad = 0;
    for (int j = 0; j < jobs->count; j++) {
        const sdc_batch_job *job = &jobs->items[j];
        if (job->error && sdc_batch_in_shard(job->index, a->shard, a->shards)) {
            sdc_batch_run_bad_job(r, job);
            bad++;
        }
    }
    return bad;
}

static sdc_status run_jobs(sdc_batch_run *r, const sdc_batch_jobs *jobs, const batch_args *a)
{
    for (int j = 0; j < jobs->count; j++) {
        const sdc_batch_job *job = &jobs->items[j];
        if (job->error || !sdc_batch_in_shard(job->index, a->shard, a->shards))
            continue;
        sdc_status s = sdc_batch_run_job(r, job);
        if (s == SDC_ERR_INTERRUPTED || (s != SDC_OK && a->fail_fast) || r->disk_full)
            return s != SDC_OK ? s : SDC_ERR_IO;
    }
    return SDC_OK;
}

static void print_summary(const sdc_batch_run *r)
{
    const sdc_batch_summary *s = &r->summary;
    fprintf(stderr, "sdc batch: %d done, %d skipped, %d failed in %.1fs (%.1f images/min, "
            "%d model load%s)\n", s->done, s->skipped, s->failed, s->seconds,
            s->seconds > 0 ? s->done * 60.0 / s->seconds : 0.0, s->model_loads,
            s->model_loads == 1 ? "" : "s");
}

/* Report summary, grid and exit status once the jobs have run (or stopped). */
static int finish(sdc_batch_run *r, const batch_args *a, sdc_status s, double t0)
{
    r->summary.interrupted = s == SDC_ERR_INTERRUPTED;
    r->summary.seconds = sdc_now_seconds() - t0;
    /* a record's failure was said when it happened; the summary's is said here */
    if (r->report && !r->report_failed &&
        sdc_batch_report_line(r->report, sdc_batch_summary_json(&r->summary))) {
        r->report_failed = 1;
        fprintf(stderr, "sdc batch: %s: cannot write the report: %s\n", r->report_path,
                strerror(errno));
    }
    int failed = r->summary.failed > 0 || r->report_failed || r->disk_full;
    if (a->grid && r->grid_count > 0 && !r->summary.interrupted && !r->disk_full &&
        sdc_batch_grid_write(a->grid, r->grid, r->grid_count, a->defaults.overwrite) != SDC_OK) {
        fprintf(stderr, "sdc batch: %s\n", sdc_last_error());
        failed = 1;
    }
    if (!a->defaults.quiet || failed)
        print_summary(r);
    if (r->disk_full)
        fprintf(stderr, "sdc batch: stopped: no space left on device; free some space and "
                "rerun with --resume to finish\n");
    if (r->summary.interrupted) {
        fprintf(stderr, "sdc batch: interrupted; rerun with --resume to continue\n");
        return sdc_signal_received() == 15 ? 143 : 130;
    }
    return failed ? 1 : 0;
}

static void run_setup(sdc_batch_run *r, const batch_args *a, FILE *report, int images)
{
    sdc_batch_run_init(r, a->job_file, a->defaults.quiet, images);
    r->resume = a->resume;
    r->verbose = a->defaults.verbose;
    r->fail_fast = a->fail_fast;
    r->report = report;
    r->report_path = a->report;
    r->collect_grid = a->grid != NULL;
    r->summary.shard = a->shard;
    r->summary.shards = a->shards;
    sdc_signals_install();
    sdc_cli_log_install(a->defaults.verbose);
}

static int run(const batch_args *a, const sdc_batch_jobs *jobs, FILE *report)
{
    double t0 = sdc_now_seconds();
    sdc_batch_run r;
    int job_count, images = count_images(jobs, a, &job_count);
    run_setup(&r, a, report, images);
    r.summary.jobs = job_count;
    r.summary.images = images;
    int bad = report_bad_jobs(&r, jobs, a);
    sdc_status s = bad && a->fail_fast ? SDC_ERR_ARG : run_jobs(&r, jobs, a);
    int rc = finish(&r, a, s, t0);
    sdc_batch_run_free(&r);
    return rc;
}

/* The jobs of a stream still in use: the current one and those whose options the run's
 * loaded (or failed) model points to; the others are freed once they have run, so an endless
 * stream takes no more memory as it goes. */
typedef struct job_list {
    sdc_batch_job **items;
    int count, cap;
} job_list;

static int keep_job(job_list *l, sdc_batch_job *job)
{
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        sdc_batch_job **grown = realloc(l->items, (size_t)cap * sizeof *grown);
        if (!grown)
            return -1;
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->count++] = job;
    return 0;
}

/* Frees the jobs the run no longer points to (all of them when r is NULL). */
static void drop_jobs(job_list *l, const sdc_batch_run *r)
{
    int kept = 0;
    for (int i = 0; i < l->count; i++) {
        sdc_batch_job *job = l->items[i];
        if (r && (&job->opt == r->model_opt || &job->opt == r->failed_opt)) {
            l->items[kept++] = job;
            continue;
        }
        sdc_batch_job_clear(job);
        free(job);
    }
    l->count = kept;
    if (!r)
        free(l->items);
}

/* What check_extra_outputs checks for a whole file, for one job of a stream. */
static void check_job_outputs(const batch_args *a, sdc_batch_job *job)
{
    for (int i = 0; !job->error && i < job->opt.batch_count; i++)
        if ((a->grid && same_file(a->grid, job->outputs[i])) ||
            (a->report && same_file(a->report, job->outputs[i])))
            sdc_batch_job_error(job, "output '%s' is the --grid or --report file",
                                job->outputs[i]);
}

/* One job of a stream as it arrives; returns what stops the run (interrupted, --fail-fast,
 * a full disk) or SDC_OK to go on. */
static sdc_status stream_job(sdc_batch_run *r, const batch_args *a, sdc_batch_job *job)
{
    if (!sdc_batch_in_shard(job->index, a->shard, a->shards))
        return SDC_OK;
    r->summary.jobs++;
    if (!job->error)
        check_job_outputs(a, job);
    if (job->error) {
        sdc_batch_run_bad_job(r, job);
        return a->fail_fast ? SDC_ERR_ARG : SDC_OK;
    }
    r->summary.images += job->opt.batch_count;
    r->progress.total += job->opt.batch_count;
    sdc_status s = sdc_batch_run_job(r, job);
    if (s == SDC_ERR_INTERRUPTED || (s != SDC_OK && a->fail_fast) || r->disk_full)
        return s != SDC_OK ? s : SDC_ERR_IO;
    return SDC_OK;
}

/* A job file read as it arrives (cmd/batch_stream.h): each job runs when its line is in. */
static int run_stream(const batch_args *a, FILE *in, FILE *report)
{
    double t0 = sdc_now_seconds();
    sdc_batch_run r;
    run_setup(&r, a, report, 0);
    sdc_batch_stream st;
    job_list jobs = {NULL, 0, 0};
    const char *name = in == stdin ? "stdin" : a->job_file;
    sdc_status read = sdc_batch_stream_open(&st, in, name, sdc_batch_format_of(a->job_file),
                                            &a->defaults, a->output_dir, a->trust_jobs);
    sdc_status s = SDC_OK;
    while (read == SDC_OK && s == SDC_OK) {
        sdc_batch_job *job = NULL;
        read = sdc_batch_stream_next(&st, &job);
        if (!job)
            break;
        if (keep_job(&jobs, job) != 0) {
            sdc_batch_job_clear(job);
            free(job);
            read = sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", name);
            break;
        }
        s = stream_job(&r, a, job);
        drop_jobs(&jobs, &r);
    }
    if (read != SDC_OK && sdc_signal_received()) { /* Ctrl-C while waiting for a line */
        read = SDC_OK;
        s = SDC_ERR_INTERRUPTED;
    }
    if (read != SDC_OK)
        fprintf(stderr, "sdc batch: %s\n", sdc_last_error());
    int rc = finish(&r, a, s, t0);
    sdc_batch_stream_close(&st);
    sdc_batch_run_free(&r);
    drop_jobs(&jobs, NULL);
    return read != SDC_OK && rc != 130 && rc != 143 ? 2 : rc;
}

/* Standard input, a pipe or a FIFO is read as it arrives; a file is read whole first (so
 * every name is checked and --fail-fast stops before anything is rendered). */
static FILE *stream_of(const char *path)
{
    struct stat st;
    if (strcmp(path, "-") == 0)
        return stdin;
    return stat(path, &st) == 0 && S_ISFIFO(st.st_mode) ? fopen(path, "rb") : NULL;
}

int sdc_cmd_batch(int argc, char **argv)
{
    batch_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc == 1 ? 0 : 2;
    sdc_batch_jobs jobs = {NULL, 0};
    FILE *in = stream_of(a.job_file);
    if (!in && sdc_batch_jobs_read(a.job_file, &a.defaults, a.output_dir, a.trust_jobs,
                                   &jobs) != SDC_OK) {
        fprintf(stderr, "sdc batch: %s\n", sdc_last_error());
        return 2;
    }
    FILE *report = NULL;
    if (check_extra_outputs(&a, &jobs) || make_dir(a.output_dir))
        rc = 2;
    else if (a.report && !(report = open_report(a.report, a.defaults.overwrite)))
        rc = 2;
    if (rc == 0)
        rc = in ? run_stream(&a, in, report) : run(&a, &jobs, report);
    if (in && in != stdin)
        fclose(in);
    if (report && fclose(report) != 0 && rc == 0) {
        fprintf(stderr, "sdc batch: %s: cannot write the report: %s\n", a.report,
                strerror(errno));
        rc = 1;
    }
    sdc_batch_jobs_free(&jobs);
    return rc;
}
