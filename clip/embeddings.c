#include "clip/embeddings.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip/prompt_chunks.h"
#include "ops/dtype.h"
#include "ops/error.h"
#include "weights/ckpt.h"
#include "weights/safetensors.h"

void sdc_embedding_db_free(sdc_embedding_db *db)
{
    for (size_t i = 0; db && i < db->count; i++) {
        free(db->items[i].name);
        free(db->items[i].path);
        free(db->items[i].data);
        free(db->items[i].ids);
    }
    if (db)
        free(db->items);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* SDXL's pair files: a clip_l and a clip_g part with the same number of vectors. */
static int is_pair(const sdc_safetensors *st)
{
    return sdc_safetensors_find(st, "clip_l") || sdc_safetensors_find(st, "clip_g");
}

static sdc_status check_pair(const sdc_safetensors *st, const char *path)
{
    const sdc_st_entry *l = sdc_safetensors_find(st, "clip_l");
    const sdc_st_entry *g = sdc_safetensors_find(st, "clip_g");
    if (!l || !g || l->tensor.ndim != 2 || g->tensor.ndim != 2 ||
        l->tensor.shape[0] != g->tensor.shape[0])
        return sdc_fail(SDC_ERR_FORMAT, "%s: an SDXL embedding needs clip_l [n, 768] and "
                        "clip_g [n, 1280] with the same n", path);
    return SDC_OK;
}

/* The vectors of an open embedding file for `part` (NULL: "emb_params" / "*", else its only
 * tensor); NULL when the file is of the other kind. */
static const sdc_st_entry *vectors_of(const sdc_safetensors *st, const char *part)
{
    if (part || is_pair(st))
        return part ? sdc_safetensors_find(st, part) : NULL;
    const sdc_st_entry *e = sdc_safetensors_find(st, "emb_params");
    if (!e)
        e = sdc_safetensors_find(st, "*");
    if (!e && sdc_safetensors_count(st) == 1)
        e = sdc_safetensors_entry(st, 0);
    return e;
}

/* Reads one file into *out; *out->data stays NULL for a file of another width or kind. */
static sdc_status read_file(const char *path, int width, const char *part, sdc_embedding *out)
{
    sdc_safetensors *st;
    sdc_status s = ends_with(path, ".pt") ? sdc_ckpt_open(path, &st)
                                          : sdc_safetensors_open(path, &st);
    if (s != SDC_OK)
        return s;
    if ((part && !is_pair(st)) || (!part && is_pair(st))) {
        sdc_safetensors_close(st); /* made for the other kind of model */
        return SDC_OK;
    }
    if (part && (s = check_pair(st, path)) != SDC_OK) {
        sdc_safetensors_close(st);
        return s;
    }
    const sdc_st_entry *e = vectors_of(st, part);
    const sdc_tensor *t = e ? &e->tensor : NULL;
    if (t && (s = sdc_safetensors_load(st, t->data, e->nbytes)) != SDC_OK) { /* a .pt's */
        sdc_safetensors_close(st);
        return s;
    }
    if (!t || !sdc_dtype_is_weight(t->dtype) || t->ndim < 1 || t->ndim > 2)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: no embedding vectors (emb_params [n, W])", path);
    else if (t->shape[t->ndim - 1] == width) {
        int64_t n = t->ndim == 2 ? t->shape[0] : 1;
        if (n < 1 || n > SDC_CLIP_CHUNK_TOKENS)
            s = sdc_fail(SDC_ERR_FORMAT, "%s: %lld vectors (1..%d fit a prompt chunk)", path,
                         (long long)n, SDC_CLIP_CHUNK_TOKENS);
        else if (!(out->data = malloc((size_t)n * width * sizeof *out->data)))
            s = sdc_fail(SDC_ERR_NOMEM, "out of memory reading %s", path);
        else {
            sdc_convert_to_f32(out->data, t->data, t->dtype, (size_t)n * width);
            out->vectors = (int)n;
        }
    }
    sdc_safetensors_close(st);
    return s;
}

/* Adds the embedding file `file` of dir (its name tokenized); files of another width are
 * skipped. */
static sdc_status add_file(sdc_embedding_db *db, const char *dir, const char *file,
                           const sdc_tokenizer *tok, const char *part)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    sdc_embedding e = {0};
    sdc_status s = read_file(path, db->width, part, &e);
    if (s != SDC_OK || !e.data)
        return s;
    e.name = strndup(file, strlen(file) - (ends_with(file, ".pt") ? 3 : 12));
    e.path = strdup(path);
    if (e.name && e.path)
        s = sdc_tokenize(tok, e.name, &e.ids, &e.n_ids);
    sdc_embedding *grown = e.name && e.path && s == SDC_OK && e.n_ids > 0
                               ? realloc(db->items, (db->count + 1) * sizeof *grown)
                               : NULL;
    if (!grown) {
        free(e.name), free(e.path), free(e.data), free(e.ids);
        return s != SDC_OK ? s : sdc_fail(SDC_ERR_NOMEM, "out of memory reading %s", path);
    }
    db->items = grown;
    db->items[db->count++] = e;
    return SDC_OK;
}

static int longer_name_first(const void *a, const void *b)
{
    const sdc_embedding *x = a, *y = b;
    return x->n_ids < y->n_ids ? 1 : x->n_ids > y->n_ids ? -1 : strcmp(x->name, y->name);
}

sdc_status sdc_embedding_db_load(sdc_embedding_db *db, const char *dir, const sdc_tokenizer *tok,
                                 int width, const char *part)
{
    memset(db, 0, sizeof *db);
    db->width = width;
    DIR *d = opendir(dir);
    if (!d)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open the embeddings folder", dir);
    sdc_status s = SDC_OK;
    struct dirent *ent;
    while (s == SDC_OK && (ent = readdir(d)))
        if (ends_with(ent->d_name, ".safetensors") || ends_with(ent->d_name, ".pt"))
            s = add_file(db, dir, ent->d_name, tok, part);
    closedir(d);
    if (s != SDC_OK) {
        sdc_embedding_db_free(db);
        memset(db, 0, sizeof *db);
        return s;
    }
    if (db->count)
        qsort(db->items, db->count, sizeof *db->items, longer_name_first);
    return SDC_OK;
}

const sdc_embedding *sdc_embedding_db_match(const sdc_embedding_db *db, const int32_t *ids,
                                            size_t n)
{
    for (size_t i = 0; db && i < db->count; i++) {
        const sdc_embedding *e = &db->items[i];
        if (e->n_ids <= n && memcmp(e->ids, ids, e->n_ids * sizeof *ids) == 0)
            return e;
    }
    return NULL;
}

const sdc_embedding *sdc_embedding_db_owner(const sdc_embedding_db *db, const float *row)
{
    uintptr_t at = (uintptr_t)row;
    for (size_t i = 0; db && row && i < db->count; i++) {
        const sdc_embedding *e = &db->items[i];
        uintptr_t start = (uintptr_t)e->data;
        if (at >= start && at < start + (size_t)e->vectors * db->width * sizeof *e->data)
            return e;
    }
    return NULL;
}

/* ---- a folder as a model takes it (sdc_embeddings_list) ---------------------------------- */

/* The file's own shape, whatever model asks: an SDXL pair's widths added (AUTOMATIC1111's
 * "shape") and its vector count, else the last dimension and count of its vectors. */
static sdc_status file_shape(const char *path, int *shape, int *vectors)
{
    sdc_safetensors *st;
    sdc_status s = ends_with(path, ".pt") ? sdc_ckpt_open(path, &st)
                                          : sdc_safetensors_open(path, &st);
    if (s != SDC_OK)
        return s;
    const sdc_st_entry *l = sdc_safetensors_find(st, "clip_l");
    const sdc_st_entry *g = sdc_safetensors_find(st, "clip_g");
    const sdc_st_entry *e = is_pair(st) ? NULL : vectors_of(st, NULL);
    const sdc_tensor *parts[2] = {l ? &l->tensor : e ? &e->tensor : NULL, g ? &g->tensor : NULL};
    int64_t width = 0, n = 0; /* a crafted header's dimensions may be anything */
    for (int i = 0; i < 2; i++)
        if (parts[i] && parts[i]->ndim >= 1 && parts[i]->ndim <= 2) {
            width += parts[i]->shape[parts[i]->ndim - 1];
            n = parts[i]->ndim == 2 ? parts[i]->shape[0] : 1;
        }
    sdc_safetensors_close(st);
    *shape = width > 0 && width <= INT32_MAX ? (int)width : 0;
    *vectors = n > 0 && n <= INT32_MAX ? (int)n : 0;
    if (!*shape || !*vectors)
        return sdc_fail(SDC_ERR_FORMAT, "%s: no embedding vectors (emb_params [n, W])", path);
    return SDC_OK;
}

/* Whether the loader takes the file for an encoder of `width` (part as in
 * sdc_embedding_db_load): the very function a generation reads it with. */
static sdc_status taken(const char *path, int width, const char *part, int *yes)
{
    sdc_embedding e = {0};
    sdc_status s = read_file(path, width, part, &e);
    *yes = s == SDC_OK && e.data;
    free(e.data);
    return s;
}

/* One file: its shape, whether each encoder of the model takes it, or why it is no embedding. */
static void list_file(const char *dir, const char *file, const int widths[2], sdc_embedding_fn fn,
                      void *user_data)
{
    char path[4096], name[1024], error[1024] = "";
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(name, sizeof name, "%.*s", (int)(strlen(file) - (ends_with(file, ".pt") ? 3 : 12)),
             file);
    sdc_embedding_info info = {.name = name, .path = path};
    sdc_status s = file_shape(path, &info.shape, &info.vectors);
    int first = 1, second = 1; /* an encoder the model lacks takes anything */
    if (s == SDC_OK && widths[0])
        s = taken(path, widths[0], widths[1] ? "clip_l" : NULL, &first);
    if (s == SDC_OK && widths[1])
        s = taken(path, widths[1], "clip_g", &second);
    info.usable = s == SDC_OK && first && second && (widths[0] || widths[1]);
    if (s != SDC_OK) {
        snprintf(error, sizeof error, "%s", sdc_last_error());
        info.error = error;
    }
    fn(&info, user_data);
}

sdc_status sdc_embeddings_list(const char *dir, const int text_widths[2], sdc_embedding_fn fn,
                               void *user_data)
{
    DIR *d = opendir(dir);
    if (!d)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open the embeddings folder", dir);
    for (struct dirent *ent; (ent = readdir(d));)
        if (ends_with(ent->d_name, ".safetensors") || ends_with(ent->d_name, ".pt"))
            list_file(dir, ent->d_name, text_widths, fn, user_data);
    closedir(d);
    return SDC_OK;
}
