/* The checkpoints `sdc serve` offers: the files of --models-dir (.safetensors, .ckpt) and
 * the -m model, named as AUTOMATIC1111's /sdapi/v1/sd-models names them. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/serve.h"

const char *sdc_serve_model_title(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int is_checkpoint(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && ((n > 12 && strcmp(name + n - 12, ".safetensors") == 0) ||
                              (n > 5 && strcmp(name + n - 5, ".ckpt") == 0));
}

/* "name.safetensors" -> "name" */
static void stem(const char *title, char *out, size_t n)
{
    const char *dot = strrchr(title, '.');
    snprintf(out, n, "%.*s", (int)(dot ? dot - title : (long)strlen(title)), title);
}

static int model_entry(json_t *list, const char *path, const char *hash)
{
    char name[512];
    const char *title = sdc_serve_model_title(path);
    stem(title, name, sizeof name);
    char full[600];
    if (hash && *hash)
        snprintf(full, sizeof full, "%s [%s]", title, hash);
    else
        snprintf(full, sizeof full, "%s", title);
    json_t *e = json_pack("{s:s, s:s, s:o, s:n, s:s, s:n}", "title", full, "model_name", name,
                          "hash", hash && *hash ? json_string(hash) : json_null(), "sha256",
                          "filename", path, "config");
    return e ? json_array_append_new(list, e) : -1;
}

/* Calls fn for each checkpoint path until it returns non-zero; returns that value. */
static int each_model(const sdc_server *srv, int (*fn)(const char *path, void *arg), void *arg)
{
    int r = srv->default_model ? fn(srv->default_model, arg) : 0;
    DIR *d = srv->models_dir && !r ? opendir(srv->models_dir) : NULL;
    struct dirent *e;
    while (d && !r && (e = readdir(d))) {
        if (!is_checkpoint(e->d_name))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", srv->models_dir, e->d_name);
        if (!srv->default_model || strcmp(path, srv->default_model) != 0)
            r = fn(path, arg);
    }
    if (d)
        closedir(d);
    return r;
}

typedef struct listing {
    json_t *list;
    sdc_server *srv;
} listing;

static int add_model(const char *path, void *arg)
{
    listing *l = arg;
    char hash[11] = "";
    pthread_mutex_lock(&l->srv->lock); /* the hash is known for the resident model */
    if (strcmp(path, l->srv->model_path) == 0)
        memcpy(hash, l->srv->model_hash, sizeof hash);
    pthread_mutex_unlock(&l->srv->lock);
    model_entry(l->list, path, hash);
    return 0;
}

json_t *sdc_serve_model_list(sdc_server *srv)
{
    listing l = {json_array(), srv};
    if (l.list)
        each_model(srv, add_model, &l);
    return l.list;
}

typedef struct search {
    const char *name;
    char *found;
} search;

/* A name matches the file name, its stem, the path, or "file [hash]" (A1111 titles). */
static int match(const char *path, void *arg)
{
    search *s = arg;
    const char *title = sdc_serve_model_title(path);
    char name[512];
    stem(title, name, sizeof name);
    size_t n = strlen(title);
    int hit = strcmp(s->name, path) == 0 || strcmp(s->name, title) == 0 ||
              strcmp(s->name, name) == 0 ||
              (strncmp(s->name, title, n) == 0 && strncmp(s->name + n, " [", 2) == 0);
    if (hit)
        s->found = strdup(path);
    return hit;
}

char *sdc_serve_model_resolve(const sdc_server *srv, const char *name)
{
    search s = {name, NULL};
    each_model(srv, match, &s);
    return s.found;
}
