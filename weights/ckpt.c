/* .ckpt -> table of tensors: find data.pkl, read it with the restricted pickle reader, walk
 * to the state dict and resolve each tensor's storage to its zip member. */
#include "weights/ckpt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "weights/pickle.h"
#include "weights/zip_archive.h"

enum { MAX_NESTING = 4, MAX_NAME = 4096, MAX_PREFIX = 256 };

/* Everything the tensor table borrows from; released with it. */
typedef struct ckpt {
    sdc_zip *zip;
    sdc_pickle *pickle;
    char origin[MAX_PREFIX + 4096];
    char prefix[MAX_PREFIX];  /* "archive/" */
    void **copies;            /* aligned copies of misaligned tensors */
    size_t copy_count;
    sdc_st_entry *entries;
    size_t count;
} ckpt;

static void ckpt_release(void *owner)
{
    ckpt *c = owner;
    if (!c)
        return;
    for (size_t i = 0; i < c->copy_count; i++)
        free(c->copies[i]);
    free(c->copies);
    free(c->entries);
    sdc_pickle_free(c->pickle);
    sdc_zip_close(c->zip);
    free(c);
}

static sdc_status ckpt_load(void *owner, const void *data, size_t nbytes)
{
    ckpt *c = owner;
    return sdc_zip_load(c->zip, data, nbytes);
}

static const uint8_t zip_magic[4] = {'P', 'K', 3, 4};

/* Reads the first bytes: 1 = zip, 2 = a bare pickle (what torch < 1.6 wrote: PROTO 2..5
 * first), 0 = neither. A safetensors file has '{' at byte 8, where a zip has its method. */
static int sniff_kind(const char *path)
{
    uint8_t head[9] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(head, 1, sizeof head, f) : 0;
    if (f)
        fclose(f);
    if (got == sizeof head && head[8] == '{')
        return 0;
    if (got >= 4 && memcmp(head, zip_magic, 4) == 0)
        return 1;
    if (got >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5)
        return 2;
    return 0;
}

int sdc_ckpt_sniff(const char *path) { return sniff_kind(path) != 0; }

/* The one top-level "<folder>/data.pkl". */
static sdc_status find_pickle(ckpt *c, const char *path, size_t *index)
{
    size_t found = 0;
    for (size_t i = 0; i < sdc_zip_count(c->zip); i++) {
        const char *name = sdc_zip_name(c->zip, i);
        const char *slash = name ? strchr(name, '/') : NULL;
        if (!slash || strcmp(slash + 1, "data.pkl") != 0)
            continue;
        if (found++ || (size_t)(slash + 1 - name) >= sizeof c->prefix)
            return sdc_fail(SDC_ERR_FORMAT, "%s: more than one data.pkl, or a long folder name",
                            path);
        memcpy(c->prefix, name, (size_t)(slash + 1 - name));
        c->prefix[slash + 1 - name] = '\0';
        *index = i;
    }
    if (!found)
        return sdc_fail(SDC_ERR_FORMAT, "%s: a zip without <folder>/data.pkl is no PyTorch "
                        "checkpoint", path);
    return SDC_OK;
}

/* Member <prefix><rest>; 0 when absent. */
static int find_member(const ckpt *c, const char *rest, size_t *index)
{
    char name[MAX_PREFIX + 128];
    int n = snprintf(name, sizeof name, "%s%s", c->prefix, rest);
    return n > 0 && (size_t)n < sizeof name && sdc_zip_find(c->zip, name, index);
}

static sdc_status check_byteorder(ckpt *c, const char *path)
{
    size_t index = 0, size = 0;
    const uint8_t *data = NULL;
    if (!find_member(c, "byteorder", &index))
        return SDC_OK;
    sdc_status s = sdc_zip_read(c->zip, index, 16, &data, &size);
    if (s == SDC_OK && !(size == 6 && memcmp(data, "little", 6) == 0))
        s = sdc_fail(SDC_ERR_UNSUPPORTED, "%s: a big-endian checkpoint; sdc reads "
                     "little-endian ones", path);
    return s;
}

static sdc_status load_pickle(ckpt *c, const char *path)
{
    size_t index = 0, size = 0;
    const uint8_t *data = NULL;
    sdc_status s = find_pickle(c, path, &index);
    if (s == SDC_OK)
        s = check_byteorder(c, path);
    if (s == SDC_OK)
        s = sdc_zip_read(c->zip, index, SDC_CKPT_MAX_PICKLE, &data, &size);
    if (s != SDC_OK)
        return s;
    snprintf(c->origin, sizeof c->origin, "%s:%sdata.pkl", path, c->prefix);
    return sdc_pickle_load(data, size, c->origin, &c->pickle);
}

/* The dict holding the tensors (see ckpt.h). */
static sdc_status state_dict(const ckpt *c, const sdc_pk_value **out)
{
    const sdc_pk_value *v = sdc_pickle_root(c->pickle);
    if (v->kind != SDC_PK_DICT)
        return sdc_fail(SDC_ERR_FORMAT, "%s: holds a %s, not a dict of tensors", c->origin,
                        sdc_pk_kind_name(v->kind));
    for (int depth = 0; depth < MAX_NESTING; depth++) {
        const sdc_pk_value *inner = sdc_pk_dict_get(v, "state_dict");
        if (!inner) /* an AUTOMATIC1111 textual-inversion embedding: {"*": vectors} */
            inner = sdc_pk_dict_get(v, "string_to_param");
        if (!inner || inner->kind != SDC_PK_DICT)
            break;
        v = inner;
    }
    *out = v;
    return SDC_OK;
}

/* Row-major strides, ignoring dimensions of size 1 (PyTorch's own rule). */
static int contiguous(const sdc_pk_tensor *t)
{
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] == 0)
            return 1;
        if (t->shape[d] != 1 && t->stride[d] != expect)
            return 0;
        expect *= t->shape[d];
    }
    return 1;
}

static sdc_status keep_copy(ckpt *c, const char *path, const sdc_st_entry *e, void **copy)
{
    void **grown = realloc(c->copies, (c->copy_count + 1) * sizeof *grown);
    if (!grown)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    c->copies = grown;
    *copy = aligned_alloc(64, (e->nbytes + 63) & ~(size_t)63);
    if (!*copy)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory copying '%s'", path, e->name);
    memcpy(*copy, e->tensor.data, e->nbytes);
    c->copies[c->copy_count++] = *copy;
    return SDC_OK;
}

/* Points e at the tensor's bytes inside its storage's member. */
static sdc_status resolve(ckpt *c, const char *path, const sdc_pk_tensor *t, sdc_st_entry *e)
{
    const sdc_pk_storage *st = t->storage;
    size_t esize = sdc_dtype_size(st->dtype), index = 0, size = 0;
    const uint8_t *data = NULL;
    char rest[96];
    snprintf(rest, sizeof rest, "data/%s", st->key);
    if (!find_member(c, rest, &index))
        return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' uses storage '%s', which the zip "
                        "lacks (%s%s)", path, e->name, st->key, c->prefix, rest);
    /* compressed storages are inflated when a tensor in them is used (sdc_safetensors_load),
     * so `sdc info` or a tensor the model does not need costs no memory */
    sdc_status s = sdc_zip_view(c->zip, index, UINT64_MAX, &data, &size);
    if (s != SDC_OK)
        return s;
    if ((uint64_t)st->numel * esize > size)
        return sdc_fail(SDC_ERR_FORMAT, "%s: storage '%s' declares %lld elements of %zu bytes "
                        "but its member holds %zu bytes", path, st->key, (long long)st->numel,
                        esize, size);
    e->tensor.data = data + (size_t)t->offset * esize;
    if (e->nbytes && (uintptr_t)e->tensor.data % esize != 0) {
        void *copy;
        if ((s = keep_copy(c, path, e, &copy)) != SDC_OK)
            return s;
        e->tensor.data = copy;
    }
    return SDC_OK;
}

static sdc_status add_tensor(ckpt *c, const char *path, const sdc_pk_value *key,
                             const sdc_pk_tensor *t)
{
    if (key->kind != SDC_PK_STRING || key->as.str.len == 0 || key->as.str.len > MAX_NAME ||
        memchr(key->as.str.data, 0, key->as.str.len))
        return sdc_fail(SDC_ERR_FORMAT, "%s: a tensor's name is not a non-empty string of at "
                        "most %d bytes", path, MAX_NAME);
    sdc_st_entry *e = &c->entries[c->count];
    e->name = key->as.str.data;
    if (!contiguous(t))
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: tensor '%s' is not contiguous (re-save it "
                        "with .contiguous())", path, e->name);
    e->tensor.dtype = t->storage->dtype;
    e->tensor.ndim = t->ndim;
    memcpy(e->tensor.shape, t->shape, sizeof t->shape);
    /* within the storage (checked by the reader), so no overflow */
    e->nbytes = (size_t)sdc_tensor_numel(&e->tensor) * sdc_dtype_size(e->tensor.dtype);
    sdc_status s = resolve(c, path, t, e);
    if (s == SDC_OK)
        c->count++;
    return s;
}

static sdc_status collect_tensors(ckpt *c, const char *path)
{
    const sdc_pk_value *dict = NULL;
    sdc_status s = state_dict(c, &dict);
    if (s != SDC_OK)
        return s;
    size_t pairs = dict->as.seq.count / 2;
    c->entries = calloc(pairs ? pairs : 1, sizeof *c->entries);
    if (!c->entries)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < pairs && s == SDC_OK; i++) {
        const sdc_pk_value *value = dict->as.seq.items[2 * i + 1];
        if (value->kind == SDC_PK_TENSOR)
            s = add_tensor(c, path, dict->as.seq.items[2 * i], &value->as.tensor);
    }
    return s;
}

sdc_status sdc_ckpt_open(const char *path, sdc_safetensors **out)
{
    *out = NULL;
    int kind = sniff_kind(path);
    if (kind == 2)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: a bare pickle (PyTorch's pre-1.6 format); sdc "
                        "reads zip checkpoints: re-save it with a current torch", path);
    ckpt *c = calloc(1, sizeof *c);
    if (!c)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    sdc_status s = sdc_zip_open(path, &c->zip);
    if (s == SDC_OK)
        s = load_pickle(c, path);
    if (s == SDC_OK)
        s = collect_tensors(c, path);
    if (s != SDC_OK) {
        ckpt_release(c);
        return s;
    }
    s = sdc_safetensors_wrap(path, sdc_zip_file_size(c->zip), c->entries, c->count,
                             ckpt_release, c, out);
    if (s == SDC_OK)
        sdc_safetensors_set_loader(*out, ckpt_load);
    return s;
}
