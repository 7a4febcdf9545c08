/* `sdc serve`: the command. Parses its options, loads the model, listens, and on SIGINT /
 * SIGTERM stops cleanly: no new connections, queued requests answered with an error, the
 * running generation stopped after its current step, exit 0. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <errno.h>

#include "cmd/commands.h"
#include "cmd/demo_model.h"
#include "cmd/serve_static.h"
#include "cmd/progress.h"
#include "cmd/serve.h"
#include "image/image.h"
#include "ops/error.h"

typedef struct serve_options {
    const char *listen, *auth, *models_dir, *token_file, *embd_dir;
    int insecure, max_queue, verbose;
    unsigned long long max_pixels, max_body_mib, keep_models, idle_timeout;
} serve_options;

static void print_help(FILE *out)
{
    fputs(
        "usage: sdc serve [-m MODEL] [options]\n"
        "\n"
        "An HTTP server with AUTOMATIC1111's API (/sdapi/v1/txt2img, img2img, progress,\n"
        "options, sd-models, samplers, schedulers, png-info, interrupt, skip) and a job\n"
        "queue (/v1/jobs); the model stays loaded between requests (docs/server.md).\n"
        "A web page for all of it is at / (open http://127.0.0.1:7860/ in a browser).\n"
        "\n"
        "  -m, --model PATH          the model loaded at start (default: the demo model)\n"
        "      --models-dir DIR      checkpoints requests may pick (sd_model_checkpoint)\n"
        "      --vocab PATH          CLIP vocabulary, as for sdc\n"
        "      --embd-dir DIR        textual-inversion embeddings, as for sdc: each file's\n"
        "                            name is a word of the requests' prompts\n"
        "      --listen HOST:PORT    address to listen on (default 127.0.0.1:7860; port 0:\n"
        "                            any free port, printed at start)\n"
        "      --api-auth USER:PASS  require HTTP basic authentication\n"
        "      --token-file F        require a bearer token (Authorization: Bearer T), T one\n"
        "                            line of F; with --api-auth either is accepted\n"
        "      --insecure-listen     allow a non-loopback address without authentication\n"
        "      --max-queue N         queued and running jobs at most; more get 503 (default 8)\n"
        "      --max-pixels N        largest width x height of a request or an uploaded\n"
        "                            picture (default 4194304)\n"
        "      --max-body-mib N      largest request body in MiB; more get 413 (default 64)\n"
        "      --idle-timeout S      close a connection silent for S seconds (default 30)\n"
        "      --keep-models N       models kept loaded, the least recently used unloaded\n"
        "                            first (default 1: a switch reuses the memory)\n"
        "      --preview M           progress's current_image: proj (default: a fitted\n"
        "                            latent-to-RGB map, 1/8 size), vae (the full decoder)\n"
        "                            or none\n"
        "      --preview-interval N  sampling steps between previews (default 1)\n"
        "  -t, --threads N           worker threads (default: all cores)\n"
        "      --cpu ISA             kernels' instruction set at most: auto (default),\n"
        "                            avx512, avx2 or scalar (as for sdc)\n"
        "  -v, --verbose             model loads and memory, hang-ups, and library\n"
        "                            information on stderr\n"
        "  -h, --help                this text\n",
        out);
}

static const struct option long_options[] = {
    {"model", required_argument, 0, 'm'},      {"models-dir", required_argument, 0, 'd'},
    {"vocab", required_argument, 0, 'V'},      {"listen", required_argument, 0, 'l'},
    {"api-auth", required_argument, 0, 'a'},   {"insecure-listen", no_argument, 0, 'I'},
    {"max-queue", required_argument, 0, 'q'},  {"max-pixels", required_argument, 0, 'P'},
    {"max-body-mib", required_argument, 0, 'B'}, {"threads", required_argument, 0, 't'},
    {"token-file", required_argument, 0, 'T'}, {"keep-models", required_argument, 0, 'K'},
    {"idle-timeout", required_argument, 0, 'O'}, {"embd-dir", required_argument, 0, 'E'},
    {"verbose", no_argument, 0, 'v'},          {"help", no_argument, 0, 'h'},
    {"preview", required_argument, 0, 'R'},    {"preview-interval", required_argument, 0, 'N'},
    {"cpu", required_argument, 0, 'C'},
    {0, 0, 0, 0},
};

static int number(const char *flag, const char *arg, unsigned long long lo, unsigned long long hi,
                  unsigned long long *out)
{
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    if (end == arg || *end || *arg == '-' || v < lo || v > hi) {
        fprintf(stderr, "sdc serve: %s takes a number from %llu to %llu, not '%s'\n", flag, lo, hi, arg);
        return 2;
    }
    *out = v;
    return 0;
}

/* One option; 0, 1 after --help, 2 on a usage error. */
static int apply(int c, const char *arg, serve_options *o, sdc_cli_options *m)
{
    unsigned long long v = 0;
    switch (c) {
    case 'm': m->model = arg; return 0;
    case 'd': o->models_dir = arg; return 0;
    case 'E': o->embd_dir = arg; return 0;
    case 'V': m->vocab = arg; return 0;
    case 'l': o->listen = arg; return 0;
    case 'a': o->auth = arg; return 0;
    case 'T': o->token_file = arg; return 0;
    case 'K': return number("--keep-models", arg, 1, SDC_MODEL_CACHE_MAX, &o->keep_models);
    case 'O': return number("--idle-timeout", arg, 1, 3600, &o->idle_timeout);
    case 'I': o->insecure = 1; return 0;
    case 'v': o->verbose = 1; return 0;
    case 'q':
        if (number("--max-queue", arg, 1, 10000, &v))
            return 2;
        o->max_queue = (int)v;
        return 0;
    case 'P': return number("--max-pixels", arg, 64, SDC_IMAGE_MAX_PIXELS, &o->max_pixels);
    case 'B': return number("--max-body-mib", arg, 1, 4096, &o->max_body_mib);
    case 't':
        if (number("--threads", arg, 1, 1024, &v))
            return 2;
        m->threads = (int)v;
        return 0;
    case 'C':
        if (!sdc_cli_cpu_ok(arg)) {
            fprintf(stderr, "sdc serve: --cpu must be auto, scalar, avx2 or avx512, not '%s'\n",
                    arg);
            return 2;
        }
        m->cpu = arg;
        return 0;
    case 'R':
        if (sdc_cli_preview_option("preview", arg, m) || m->gen.preview == SDC_PREVIEW_TAE) {
            fprintf(stderr, "sdc serve: --preview takes proj, vae or none, not '%s'%s\n", arg,
                    strcmp(arg, "tae") ? "" : " (tae needs a TAESD, which sdc serve does not load)");
            return 2;
        }
        return 0;
    case 'N':
        if (number("--preview-interval", arg, 1, 1000, &v))
            return 2;
        m->gen.preview_interval = (int)v;
        return 0;
    case 'h': print_help(stdout); return 1;
    default: fprintf(stderr, "sdc serve: unknown option (see sdc serve --help)\n"); return 2;
    }
}

/* --embd-dir is read at every request: a folder that cannot be read is refused at the start
 * rather than failing each of them. */
static int check_embd_dir(const char *dir)
{
    DIR *d = dir ? opendir(dir) : NULL;
    if (dir && !d) {
        fprintf(stderr, "sdc serve: --embd-dir %s: cannot open the folder (%s)\n", dir,
                strerror(errno));
        return 2;
    }
    if (d)
        closedir(d);
    return 0;
}

static int parse(int argc, char **argv, serve_options *o, sdc_cli_options *m)
{
    *o = (serve_options){"127.0.0.1:7860", NULL, NULL, NULL, NULL, 0, 8, 0, 2048 * 2048, 64, 1, 30};
    sdc_cli_defaults(m);
    m->gen.preview = SDC_PREVIEW_PROJ; /* as good as free: every step by default */
    optind = 1;
    opterr = 0;
    int c, rc = 0;
    while (!rc && (c = getopt_long(argc, argv, "m:t:vh", long_options, NULL)) != -1)
        rc = apply(c, optarg, o, m);
    if (!rc && optind < argc) {
        fprintf(stderr, "sdc serve: unexpected argument '%s'\n", argv[optind]);
        rc = 2;
    }
    return rc ? rc : check_embd_dir(o->embd_dir);
}

/* Loads the starting model (on the main thread, before it starts working the queue). */
static sdc_status load_first(sdc_server *srv)
{
    sdc_job *job = sdc_job_new(SDC_JOB_LOAD);
    if (!job || !(job->checkpoint = strdup(srv->default_model))) {
        sdc_job_free(job);
        return sdc_fail(SDC_ERR_NOMEM, "out of memory");
    }
    sdc_status s = sdc_serve_run(srv, job);
    if (s != SDC_OK)
        s = sdc_fail(s, "%s", job->error);
    sdc_job_free(job);
    return s;
}

typedef struct watch {
    sdc_server *srv;
    sdc_http_server *http;
} watch;

/* Waits for SIGINT / SIGTERM (the handler only sets a flag), then stops taking connections
 * and stops the queue, which ends the worker loop of the main thread. */
static void *watch_signals(void *arg)
{
    watch *w = arg;
    while (!sdc_signal_received())
        usleep(100 * 1000);
    fprintf(stderr, "sdc serve: stopping\n");
    sdc_http_quiesce(w->http);
    sdc_job_queue_stop(w->srv->queue);
    return NULL;
}

static void remove_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[512];
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int serve(sdc_server *srv, const serve_options *o)
{
    sdc_http_config hc = {.listen = o->listen, .auth = o->auth, .token_file = o->token_file,
                          .insecure = o->insecure, .idle_timeout_s = (unsigned)o->idle_timeout,
                          .max_body = (size_t)o->max_body_mib << 20,
                          .handler = sdc_serve_handle, .ctx = srv,
                          .public_handler = sdc_serve_static};
    sdc_http_server *http = NULL;
    int port = 0;
    pthread_t watcher;
    sdc_status s = sdc_model_cache_new((int)o->keep_models, o->verbose, &srv->models);
    if (s == SDC_OK)
        s = sdc_job_queue_new(o->max_queue, sdc_serve_run, srv, &srv->queue);
    if (s == SDC_OK) /* listening before loading: a refused address fails at once */
        s = sdc_http_start(&hc, &http, &port);
    if (s == SDC_OK)
        s = load_first(srv);
    watch w = {srv, http};
    if (s == SDC_OK && pthread_create(&watcher, NULL, watch_signals, &w) != 0)
        s = sdc_fail(SDC_ERR_NOMEM, "cannot start a thread");
    if (s == SDC_OK) {
        char host[64];
        snprintf(host, sizeof host, "%.*s", (int)(strrchr(o->listen, ':') - o->listen), o->listen);
        fprintf(stderr, "sdc serve: %s loaded, listening on http://%s:%d\n",
                sdc_serve_model_title(srv->default_model), host, port);
        sdc_job_queue_work(srv->queue); /* until a signal */
        pthread_join(watcher, NULL);
    } else if (srv->queue) {
        sdc_job_queue_stop(srv->queue); /* answers what came in while loading */
    }
    if (http)
        sdc_http_stop(http); /* the threads that waited for jobs have their answers */
    if (srv->queue)
        sdc_job_queue_free(srv->queue);
    sdc_model_cache_free(srv->models);
    if (s != SDC_OK)
        fprintf(stderr, "sdc serve: %s\n", sdc_last_error());
    return s == SDC_OK ? 0 : 1;
}

int sdc_cmd_serve(int argc, char **argv)
{
    serve_options o;
    sdc_server srv;
    memset(&srv, 0, sizeof srv);
    int rc = parse(argc, argv, &o, &srv.model_opt);
    if (rc)
        return rc == 1 ? 0 : 2;
    char demo[4096];
    srv.model_opt.quiet = 1;
    if (sdc_demo_model_apply(&srv.model_opt, demo, sizeof demo, 0) != SDC_OK) {
        fprintf(stderr, "sdc serve: %s\n", sdc_last_error());
        return 1;
    }
    srv.default_model = srv.model_opt.model;
    srv.model_opt.model = NULL; /* no --vae: models are loaded by path alone */
    srv.models_dir = o.models_dir;
    srv.embd_dir = o.embd_dir;
    srv.max_pixels = o.max_pixels;
    srv.verbose = o.verbose;
    snprintf(srv.selected, sizeof srv.selected, "%s", srv.default_model);
    sdc_image_set_pixel_limit(o.max_pixels);
    snprintf(srv.tmpdir, sizeof srv.tmpdir, "%s", "/tmp/sdc-serve-XXXXXX");
    if (!mkdtemp(srv.tmpdir)) {
        fprintf(stderr, "sdc serve: cannot make a temporary folder in /tmp\n");
        return 1;
    }
    pthread_mutex_init(&srv.lock, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up is an error return, not a death */
    sdc_signals_install();
    sdc_cli_log_install(o.verbose);
    rc = serve(&srv, &o);
    remove_tmpdir(srv.tmpdir);
    pthread_mutex_destroy(&srv.lock);
    return rc;
}
