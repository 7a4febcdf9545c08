/* GET /sdapi/v1/embeddings: the textual-inversion embeddings of --embd-dir as the resident
 * model takes them, in AUTOMATIC1111's shape:
 *   {"loaded": {NAME: {"step": null, "sd_checkpoint": null, "sd_checkpoint_name": null,
 *                      "shape": WIDTH, "vectors": N}, ...}, "skipped": {NAME: {...}, ...}}
 * "skipped" holds those made for another model's text encoder. The verdicts come from the
 * library (sdc_embeddings_list), which reads each file with the loader a generation uses.
 * A file that is no embedding is in neither list: a warning on stderr names it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/serve.h"
#include "ops/error.h"

typedef struct found {
    json_t *loaded, *skipped; /* [{"name", "item"}] until sorted into objects */
} found;

static void take(const sdc_embedding_info *info, void *user_data)
{
    found *f = user_data;
    if (info->error) {
        fputs("sdc serve: warning: ", stderr);
        sdc_fputs_escaped(info->error, stderr, 0);
        fputs(" (not listed in /sdapi/v1/embeddings)\n", stderr);
        return;
    }
    json_t *item = json_pack("{s:n, s:n, s:n, s:i, s:i}", "step", "sd_checkpoint",
                             "sd_checkpoint_name", "shape", info->shape, "vectors", info->vectors);
    json_array_append_new(info->usable ? f->loaded : f->skipped,
                          json_pack("{s:s, s:o}", "name", info->name, "item", item));
}

static int by_name(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
    return strcmp(x, y);
}

/* {NAME: item} in name order, so the page's picker does not follow the file system's. */
static json_t *by_names(json_t *list)
{
    size_t n = json_array_size(list);
    json_t **items = malloc((n ? n : 1) * sizeof *items);
    json_t *out = json_object();
    if (items) {
        for (size_t i = 0; i < n; i++)
            items[i] = json_array_get(list, i);
        qsort(items, n, sizeof *items, by_name);
        for (size_t i = 0; i < n; i++)
            json_object_set(out, json_string_value(json_object_get(items[i], "name")),
                            json_object_get(items[i], "item"));
    }
    free(items);
    json_decref(list);
    return out;
}

json_t *sdc_serve_embedding_list(sdc_server *srv)
{
    int widths[2];
    pthread_mutex_lock(&srv->lock);
    memcpy(widths, srv->text_widths, sizeof widths);
    pthread_mutex_unlock(&srv->lock);
    found f = {json_array(), json_array()};
    /* no model resident (still loading, or a switch failed): nothing takes any file */
    sdc_status s = srv->embd_dir && (widths[0] || widths[1])
                       ? sdc_embeddings_list(srv->embd_dir, widths, take, &f)
                       : SDC_OK;
    json_t *out = s == SDC_OK ? json_pack("{s:o, s:o}", "loaded", by_names(f.loaded), "skipped",
                                          by_names(f.skipped))
                              : NULL;
    if (s != SDC_OK) {
        json_decref(f.loaded);
        json_decref(f.skipped);
    }
    return out;
}
