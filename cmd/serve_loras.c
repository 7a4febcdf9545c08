/* GET /sdapi/v1/loras: the LoRA files a prompt's <lora:NAME:W> tag can name, i.e. those of
 * the "loras" folder beside the selected model (where the pipeline looks for them, as
 * `sdc` does without --lora-model-dir), in AUTOMATIC1111's shape. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/serve.h"

/* The extensions the pipeline tries for NAME (pipeline/lora_run.c); the length of the one
 * name ends with, or 0. */
static size_t lora_extension(const char *name)
{
    static const char *const ext[] = {".safetensors", ".pt", ".ckpt"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && strcmp(name + n - e, ext[i]) == 0)
            return e;
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
    return strcmp(x, y);
}

/* The entries sorted by name, so the picker's order does not follow the file system's. */
static json_t *sorted(json_t *list)
{
    size_t n = json_array_size(list);
    json_t **items = malloc((n ? n : 1) * sizeof *items);
    json_t *out = json_array();
    if (items) {
        for (size_t i = 0; i < n; i++)
            items[i] = json_array_get(list, i);
        qsort(items, n, sizeof *items, by_name);
        for (size_t i = 0; i < n; i++)
            json_array_append(out, items[i]);
    }
    free(items);
    json_decref(list);
    return out;
}

json_t *sdc_serve_lora_list(sdc_server *srv)
{
    char dir[4096 + 8];
    pthread_mutex_lock(&srv->lock);
    const char *slash = strrchr(srv->selected, '/');
    snprintf(dir, sizeof dir, "%.*sloras", slash ? (int)(slash - srv->selected + 1) : 0, srv->selected);
    pthread_mutex_unlock(&srv->lock);
    json_t *list = json_array();
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t ext = lora_extension(e->d_name);
        if (!ext || e->d_name[0] == '.')
            continue;
        char name[256], path[sizeof dir + 256];
        snprintf(name, sizeof name, "%.*s", (int)(strlen(e->d_name) - ext), e->d_name);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:{}}", "name", name, "alias", name,
                                              "path", path, "metadata"));
    }
    if (d)
        closedir(d);
    return sorted(list);
}
