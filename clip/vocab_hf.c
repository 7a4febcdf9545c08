/* A Hugging Face tokenizer folder: vocab.json + merges.txt (format in vocab.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip/tokenizer_text.h"
#include "clip/vocab.h"
#include "ops/error.h"

/* Whole file into a malloc'd buffer (NUL-terminated). */
static sdc_status read_file(const char *path, char **text, size_t *len)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0;
    sdc_status st = SDC_OK;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = sdc_fail(SDC_ERR_IO, "%s: cannot determine its size", path);
    } else {
        if ((unsigned long)size > SDC_VOCAB_MAX_FILE_BYTES)
            st = sdc_fail(SDC_ERR_FORMAT, "%s: larger than %u MiB", path,
                          SDC_VOCAB_MAX_FILE_BYTES >> 20);
        else if (!(buf = malloc((size_t)size + 1)))
            st = sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
        else if ((n = fread(buf, 1, (size_t)size, f)) != (size_t)size)
            st = sdc_fail(SDC_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    if (st) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return SDC_OK;
}

/* vocab.json's keys ordered by id; every id in 0..n-1 must appear exactly once. */
static sdc_status tokens_by_id(const char *path, json_t *obj, const char ***out, size_t *n)
{
    size_t count = json_is_object(obj) ? json_object_size(obj) : 0;
    *out = NULL;
    *n = count;
    if (count < 512 + 2)
        return sdc_fail(SDC_ERR_FORMAT, "%s: expected an object of at least 514 tokens", path);
    const char **by_id = calloc(count, sizeof *by_id);
    if (!by_id)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        json_int_t id = json_is_integer(val) ? json_integer_value(val) : -1;
        if (id < 0 || (size_t)id >= count || by_id[id]) {
            free(by_id);
            return sdc_fail(SDC_ERR_FORMAT, "%s: token '%s' has an invalid or repeated id "
                            "(ids must be 0..%zu, each once)", path, key, count - 1);
        }
        by_id[id] = key;
    }
    *out = by_id;
    return SDC_OK;
}

static sdc_status load_vocab_json(const char *dir, sdc_vocab *v, json_t **root,
                                  size_t merges_declared)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    json_error_t err;
    *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!*root)
        return sdc_fail(SDC_ERR_FORMAT, "%s:%d: %s", path, err.line, err.text);
    const char **by_id;
    size_t n;
    sdc_status st = tokens_by_id(path, *root, &by_id, &n);
    if (st)
        return st;
    if (n != 512 + merges_declared + 2)
        st = sdc_fail(SDC_ERR_FORMAT, "%s: %zu tokens, but merges.txt has %zu merges (expected "
                      "512 + merges + 2 tokens)", path, n, merges_declared);
    if (!st)
        st = sdc_vocab_init(v, n, merges_declared);
    for (size_t i = 0; i < n && !st; i++)
        st = sdc_vocab_add_token(v, by_id[i], strlen(by_id[i]));
    if (st && st != SDC_ERR_NOMEM)
        sdc_error_prefix("%s", path);
    free(by_id);
    return st;
}

typedef struct merges_text {
    char *text;
    size_t len;
    size_t first, count; /* offset of the first merge line, number of merge lines */
} merges_text;

static bool space_char(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* merges.txt as Hugging Face's CLIPTokenizer reads it: stripped, split on '\n', the first
 * line dropped, at most 48894 lines kept. */
static sdc_status read_merges(const char *dir, merges_text *m)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    memset(m, 0, sizeof *m);
    size_t bad;
    sdc_status st = read_file(path, &m->text, &m->len);
    if (st)
        return st;
    if (!sdc_utf8_valid(m->text, m->len, &bad))
        return sdc_fail(SDC_ERR_FORMAT, "%s: invalid UTF-8 at byte %zu", path, bad);
    while (m->len > 0 && space_char(m->text[m->len - 1]))
        m->len--;
    const char *nl = memchr(m->text, '\n', m->len);
    if (!nl)
        return sdc_fail(SDC_ERR_FORMAT, "%s: no merges after the header line", path);
    m->first = (size_t)(nl - m->text) + 1;
    for (size_t i = m->first; i <= m->len && m->count < SDC_VOCAB_CLIP_MERGES; m->count++) {
        const char *e = memchr(m->text + i, '\n', m->len - i);
        i = e ? (size_t)(e - m->text) + 1 : m->len + 1;
    }
    return SDC_OK;
}

static sdc_status add_merges(const char *dir, const merges_text *m, sdc_vocab *v)
{
    sdc_status st = SDC_OK;
    size_t pos = m->first;
    for (size_t k = 0; k < m->count && !st; k++) {
        const char *e = memchr(m->text + pos, '\n', m->len - pos);
        size_t end = e ? (size_t)(e - m->text) : m->len;
        const char *a, *b;
        size_t alen, blen;
        char where[4300];
        snprintf(where, sizeof where, "%s/merges.txt:%zu", dir, k + 2);
        if (!sdc_vocab_split_merge(m->text + pos, end - pos, &a, &alen, &b, &blen))
            return sdc_fail(SDC_ERR_FORMAT, "%s: malformed merge line (expected two symbols)",
                            where);
        st = sdc_vocab_add_merge(v, a, alen, b, blen, (int32_t)k, where);
        pos = end + 1;
    }
    return st;
}

sdc_status sdc_vocab_read_hf(const char *dir, sdc_vocab *v)
{
    merges_text m;
    json_t *root = NULL;
    sdc_status st = read_merges(dir, &m);
    if (!st)
        st = load_vocab_json(dir, v, &root, m.count);
    json_decref(root);
    if (!st)
        st = add_merges(dir, &m, v);
    if (!st)
        st = sdc_vocab_finish(v, dir);
    free(m.text);
    return st;
}
