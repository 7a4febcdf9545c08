/* `sdc [generate] ...`: load the model once, render -b images, write each atomically. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "cmd/demo_model.h"
#include "cmd/inputs.h"
#include "cmd/options.h"
#include "cmd/progress.h"
#include "cmd/render.h"
#include "cmd/rerender.h"
#include "image/image.h"
#include "ops/error.h"

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed)
        seed = (uint64_t)sdc_now_seconds() * 2654435761u;
    if (fd >= 0)
        close(fd);
    return seed & 0xffffffffu; /* a seed people can type back */
}

/* output.png -> output_3.png for image 3 of a batch. */
static char *output_name(const char *output, int index, int count)
{
    size_t n = strlen(output) + 24;
    char *name = malloc(n);
    if (!name)
        return NULL;
    if (count == 1) {
        snprintf(name, n, "%s", output);
        return name;
    }
    const char *dot = strrchr(output, '.');
    const char *slash = strrchr(output, '/');
    if (!dot || (slash && dot < slash))
        dot = output + strlen(output);
    snprintf(name, n, "%.*s_%d%s", (int)(dot - output), output, index + 1, dot);
    return name;
}

static int exit_status_for(sdc_status s)
{
    if (s != SDC_ERR_INTERRUPTED)
        return 1;
    return sdc_signal_received() == 15 ? 143 : 130; /* SIGTERM, else SIGINT */
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* The -b images for the render loop (cmd/render.h). */
typedef struct batch_images {
    sdc_model *model;
    sdc_model *refiner;
    sdc_model *hr_model;
    const sdc_cli_options *o;
    sdc_progress *progress;
    char *name; /* the current image's output name */
} batch_images;

static sdc_status prepare_image(void *ctx, int i, sdc_render_item *item)
{
    batch_images *b = ctx;
    b->progress->image_index = i;
    b->name = output_name(b->o->output, i, b->o->batch_count);
    if (!b->name)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", b->o->output);
    item->model = b->model;
    item->refiner = b->refiner;
    item->hr_model = b->hr_model;
    item->path = b->name;
    item->overwrite = b->o->overwrite;
    return SDC_OK;
}

static void finish_image(void *ctx, int i, const sdc_render_item *item, sdc_status s,
                         double generate_seconds, double write_seconds)
{
    batch_images *b = ctx;
    (void)i, (void)generate_seconds, (void)write_seconds;
    if (s == SDC_OK && !b->o->quiet)
        fprintf(stderr, "wrote %s (seed %llu)\n", item->path,
                (unsigned long long)item->params.seed);
    free(b->name);
    b->name = NULL;
}

static sdc_status render_all(sdc_model *model, sdc_model *refiner, sdc_model *hr_model,
                             const sdc_cli_options *o, sdc_progress *progress)
{
    /* the hash is read before the first image, so an unreadable file costs no render */
    char hash[11];
    sdc_status s = sdc_model_short_hash(model, hash);
    batch_images b = {model, refiner, hr_model, o, progress, NULL};
    sdc_render_list list = {o->batch_count, &o->gen, prepare_image, NULL, finish_image, &b,
                            NULL};
    return s == SDC_OK ? sdc_render_list_run(&list, NULL) : s;
}

/* Every output name is checked before the model is loaded: a misspelt name, an existing
 * file or a missing folder costs milliseconds, not a render. */
static int check_outputs(const sdc_cli_options *o)
{
    for (int i = 0; i < o->batch_count; i++) {
        char *name = output_name(o->output, i, o->batch_count);
        sdc_status s = name ? sdc_image_check_output(name, o->overwrite, 0)
                            : sdc_fail(SDC_ERR_NOMEM, "out of memory");
        free(name);
        if (s != SDC_OK) {
            fprintf(stderr, "sdc: %s\n", sdc_last_error());
            return 2;
        }
    }
    if (sdc_cli_preview_check(o->preview_path) != SDC_OK) {
        fprintf(stderr, "sdc: --preview-path: %s\n", sdc_last_error());
        return 2;
    }
    return 0;
}

/* -v: the sampler and the schedule that run, the sampler's own when none is given. */
static void print_sampler(const sdc_generate_params *g)
{
    int i = sdc_sampler_from_name(g->sampler ? g->sampler : "euler_a");
    int own = !g->scheduler;
    int sched = own ? sdc_sampler_default_scheduler(i) : sdc_scheduler_from_name(g->scheduler);
    const char *shown = sched > 0 ? sdc_scheduler_display_name(sched) : NULL;
    if (!shown)
        shown = sched >= 0 ? sdc_scheduler_name(sched) : "default";
    int calls = sdc_sampler_model_calls_per_step(i);
    const char *sampler = sdc_sampler_display_name(i);
    fprintf(stderr, "sampler %s, schedule %s%s, %d model call%s per step\n",
            sampler ? sampler : g->sampler, shown,
            own ? " (the sampler's own)" : "", calls, calls > 1 ? "s" : "");
}

static int generate(int argc, char **argv)
{
    sdc_cli_options o;
    int rc = sdc_cli_parse(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : 2;
    sdc_cli_preview_resolve(&o);
    if (check_outputs(&o))
        return 2;
    char demo_path[4096];
    if (sdc_demo_model_apply(&o, demo_path, sizeof demo_path, 1) != SDC_OK) {
        fprintf(stderr, "sdc: %s\n", sdc_last_error());
        return 1;
    }
    if (o.seed_random) {
        o.gen.seed = random_seed();
        fprintf(stderr, "seed: %llu\n", (unsigned long long)o.gen.seed);
    }
    sdc_signals_install();
    sdc_cli_log_install(o.verbose);
    sdc_progress progress;
    sdc_progress_init(&progress, o.quiet, o.verbose);
    progress.image_count = o.batch_count;
    sdc_lora_file loras[SDC_CLI_MAX_LORAS];
    sdc_cli_loras(&o, loras, &o.gen);
    o.gen.progress = sdc_progress_update;
    o.gen.user_data = &progress;
    progress.preview.path = o.preview_path;
    o.gen.preview_fn = o.preview_path ? sdc_progress_preview : NULL;

    sdc_model_params mp = sdc_cli_model_params(&o, o.model);
    sdc_model_params rp = sdc_cli_model_params(&o, o.refiner);
    sdc_model_params hp = sdc_cli_model_params(&o, o.hr_model);
    double t0 = sdc_now_seconds();
    sdc_model *model = NULL, *refiner = NULL, *hr_model = NULL;
    sdc_cli_inputs inputs;
    sdc_status s = sdc_cli_inputs_load(&o, &o.gen, &inputs);
    if (s == SDC_OK)
        s = sdc_model_load(&mp, &model);
    if (s == SDC_OK && o.refiner)
        s = sdc_model_load(&rp, &refiner);
    if (s == SDC_OK && o.hr_model)
        s = sdc_model_load(&hp, &hr_model);
    if (s == SDC_OK)
        sdc_cli_inputs_fit_model(&o, &o.gen, &inputs, model);
    if (s == SDC_OK && o.verbose) {
        char memory[256];
        sdc_model_memory_text(model, memory, sizeof memory);
        fprintf(stderr, "loaded %s (%s) in %.2fs\n%s\n", o.model, sdc_model_family_name(model),
                sdc_now_seconds() - t0, memory);
        print_sampler(&o.gen);
    }
    if (s == SDC_OK)
        s = render_all(model, refiner, hr_model, &o, &progress);
    if (o.verbose) {
        sdc_progress_print_totals(&progress, o.gen.steps * o.batch_count);
        if (progress.preview.path)
            fprintf(stderr, "previews: %d written to %s\n", progress.preview.written,
                    progress.preview.path);
        fprintf(stderr, "total %.2fs, peak RSS %.0f MiB\n", sdc_now_seconds() - t0, peak_rss_mib());
    }
    sdc_model_free(hr_model);
    sdc_model_free(refiner);
    sdc_model_free(model);
    sdc_cli_inputs_free(&inputs);
    if (s != SDC_OK) {
        if (s == SDC_ERR_INTERRUPTED)
            fprintf(stderr, "\nsdc: interrupted, no partial output written\n");
        else
            fprintf(stderr, "sdc: %s\n", sdc_last_error());
        return exit_status_for(s);
    }
    return 0;
}

static int has_verbose(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
            return 1;
    return 0;
}

int sdc_cmd_generate(int argc, char **argv)
{
    int rr_argc;
    char **rr_argv;
    sdc_cli_log_install(has_verbose(argc, argv)); /* -r says what it found under -v */
    int rc = sdc_rerender_expand(argc, argv, &rr_argc, &rr_argv);
    if (rc)
        return rc;
    if (!rr_argv)
        return generate(argc, argv);
    rc = generate(rr_argc, rr_argv); /* the picture's settings, then this command line's */
    sdc_rerender_free(rr_argc, rr_argv);
    return rc;
}
