#include "cmd/serve_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/progress.h"
#include "ops/error.h"

typedef struct entry {
    char path[4096];
    char hash[11];
    sdc_model *model;
    unsigned long long used; /* the call that last used it: the smallest is evicted */
    long long rss_kib;       /* what loading it added to the process's memory */
} entry;

struct sdc_model_cache {
    int keep, verbose, count;
    unsigned long long clock;
    entry kept[SDC_MODEL_CACHE_MAX];
};

/* The process's resident memory (VmRSS, KiB), or -1 where /proc cannot tell. */
static long long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static const char *title(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* "loaded a.safetensors in 0.35 s (+13.6 MiB); 1 of 2 models kept, process RSS 21.1 MiB" */
static void report(const sdc_model_cache *c, const char *what, const char *path,
                   double seconds, long long delta)
{
    char took[32] = "";
    if (seconds >= 0)
        snprintf(took, sizeof took, " in %.2f s", seconds);
    if (c->verbose)
        fprintf(stderr, "sdc serve: %s %s%s (%+.1f MiB); %d of %d models kept, process RSS %.1f MiB\n",
                what, title(path), took, delta / 1024.0, c->count, c->keep, rss_kib() / 1024.0);
}

static void evict_oldest(sdc_model_cache *c)
{
    int old = 0;
    for (int i = 1; i < c->count; i++)
        if (c->kept[i].used < c->kept[old].used)
            old = i;
    entry e = c->kept[old];
    c->kept[old] = c->kept[--c->count];
    long long before = rss_kib();
    sdc_model_free(e.model);
    report(c, "unloaded (least recently used)", e.path, -1, rss_kib() - before);
}

sdc_status sdc_model_cache_new(int keep, int verbose, sdc_model_cache **out)
{
    if (keep < 1 || keep > SDC_MODEL_CACHE_MAX)
        return sdc_fail(SDC_ERR_ARG, "--keep-models takes 1 to %d", SDC_MODEL_CACHE_MAX);
    sdc_model_cache *c = calloc(1, sizeof *c);
    if (!c)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory");
    c->keep = keep;
    c->verbose = verbose;
    *out = c;
    return SDC_OK;
}

static sdc_status load(sdc_model_cache *c, const sdc_model_params *params, entry *e)
{
    long long before = rss_kib();
    double t0 = sdc_now_seconds();
    sdc_status s = sdc_model_load(params, &e->model);
    if (s == SDC_OK)
        s = sdc_model_short_hash(e->model, e->hash);
    if (s != SDC_OK) {
        sdc_model_free(e->model);
        e->model = NULL;
        return s;
    }
    e->rss_kib = rss_kib() - before;
    c->count++;
    report(c, "loaded", e->path, sdc_now_seconds() - t0, e->rss_kib);
    return SDC_OK;
}

sdc_status sdc_model_cache_get(sdc_model_cache *c, const sdc_model_params *params,
                               sdc_model **model, char hash[11])
{
    const char *path = params->model_path;
    entry *e = NULL;
    for (int i = 0; i < c->count && !e; i++)
        e = strcmp(c->kept[i].path, path) == 0 ? &c->kept[i] : NULL;
    if (!e) {
        if (strlen(path) >= sizeof e->path)
            return sdc_fail(SDC_ERR_ARG, "%s: path too long", path);
        while (c->count >= c->keep) /* before loading: the freed memory is reused */
            evict_oldest(c);
        e = &c->kept[c->count];
        memset(e, 0, sizeof *e);
        snprintf(e->path, sizeof e->path, "%s", path);
        sdc_status s = load(c, params, e);
        if (s != SDC_OK)
            return s;
    }
    e->used = ++c->clock;
    *model = e->model;
    memcpy(hash, e->hash, 11);
    return SDC_OK;
}

void sdc_model_cache_free(sdc_model_cache *c)
{
    for (int i = 0; c && i < c->count; i++)
        sdc_model_free(c->kept[i].model);
    free(c);
}
