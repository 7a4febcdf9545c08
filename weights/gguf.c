/* GGUF container parsing and validation (see gguf.h). Every read goes through a cursor that
 * knows how many bytes are left, so no field is read past the end of the mapping. */
#include "weights/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops/error.h"
#include "ops/pages.h"
#include "ops/quant.h"
#include "weights/name_map.h"
#include "weights/safetensors.h"

enum { DEFAULT_ALIGNMENT = 32, KV_ARRAY = 9, KV_STRING = 8, KV_TYPES = 13, SHOWN_STRING = 96 };

struct sdc_gguf {
    char *path;
    const uint8_t *map;
    size_t file_size;
    uint32_t version;
    sdc_gguf_tensor *tensors;
    size_t count;
    sdc_gguf_kv *kvs;
    size_t kv_count;
};

/* A bounded reader over the header; `bad` is set by the first read past the end. */
typedef struct cursor {
    const uint8_t *p;
    size_t left;
    int bad;
} cursor;

static const uint8_t *take(cursor *c, size_t n)
{
    if (c->bad || n > c->left) {
        c->bad = 1;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

static uint64_t read_le(cursor *c, int bytes)
{
    const uint8_t *p = take(c, (size_t)bytes);
    uint64_t v = 0;
    for (int i = bytes - 1; p && i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t read_u32(cursor *c) { return (uint32_t)read_le(c, 4); }
static uint64_t read_u64(cursor *c) { return read_le(c, 8); }

/* A string of at most `max` bytes (without NUL bytes) as an owned C string, or NULL with
 * c->bad set (or, for a too-long or NUL-holding string, *why set). */
static char *read_string(cursor *c, size_t max, const char **why)
{
    uint64_t len = read_u64(c);
    if (!c->bad && len > max) {
        *why = "a string longer than sdc accepts";
        return NULL;
    }
    const uint8_t *p = take(c, (size_t)len);
    if (!p)
        return NULL;
    if (memchr(p, 0, (size_t)len)) {
        *why = "a string holding a NUL byte";
        return NULL;
    }
    char *s = malloc((size_t)len + 1);
    if (!s) {
        *why = "out of memory";
        return NULL;
    }
    memcpy(s, p, (size_t)len);
    s[len] = '\0';
    return s;
}

static sdc_status truncated(const char *path)
{
    return sdc_fail(SDC_ERR_FORMAT, "%s: GGUF header is truncated", path);
}

/* Bytes of one scalar of value type `type` (strings and arrays: 0). */
static size_t scalar_size(uint32_t type)
{
    static const uint8_t sizes[KV_TYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return type < KV_TYPES ? sizes[type] : 0;
}

static const char *const kv_type_names[KV_TYPES] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
};

/* Display text of a scalar value of `type` (not string / array). */
static void format_scalar(uint32_t type, uint64_t bits, char *out, size_t size)
{
    int bytes = (int)scalar_size(type);
    int64_t sv = bytes < 8 && (bits >> (8 * bytes - 1) & 1) ? (int64_t)(bits | ~0ull << (8 * bytes))
                                                          : (int64_t)bits;
    if (type == 6 || type == 12) {
        double d;
        if (type == 6) {
            uint32_t b = (uint32_t)bits;
            float f;
            memcpy(&f, &b, 4);
            d = f;
        } else {
            memcpy(&d, &bits, 8);
        }
        snprintf(out, size, "%.9g", d);
    } else if (type == 7) {
        snprintf(out, size, "%s", bits ? "true" : "false");
    } else if (type == 1 || type == 3 || type == 5 || type == 11) {
        snprintf(out, size, "%" PRId64, sv);
    } else {
        snprintf(out, size, "%" PRIu64, bits);
    }
}

/* Skips an array's elements; each string is bounded like any other. */
static sdc_status skip_array(cursor *c, const char *path, const char *key, uint32_t elem,
                             uint64_t n)
{
    if (elem >= KV_TYPES || elem == KV_ARRAY)
        return sdc_fail(SDC_ERR_FORMAT, "%s: key '%s' is an array of unknown or nested type %u",
                        path, key, elem);
    if (elem != KV_STRING) {
        if (n > c->left / scalar_size(elem) || !take(c, (size_t)n * scalar_size(elem)))
            return truncated(path);
        return SDC_OK;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = read_u64(c);
        if (c->bad || !take(c, (size_t)len))
            return truncated(path);
    }
    return SDC_OK;
}

/* Reads one value of `type` into its display text; *scalar gets a scalar's raw bits. */
static sdc_status read_value(cursor *c, const char *path, const char *key, uint32_t type,
                             char *text, size_t size, uint64_t *scalar)
{
    if (type >= KV_TYPES)
        return sdc_fail(SDC_ERR_FORMAT, "%s: key '%s' has unknown value type %u", path, key,
                        type);
    if (type == KV_ARRAY) {
        uint32_t elem = read_u32(c);
        uint64_t n = read_u64(c);
        if (c->bad)
            return truncated(path);
        snprintf(text, size, "[%s x %" PRIu64 "]", elem < KV_TYPES ? kv_type_names[elem] : "?",
                 n);
        return skip_array(c, path, key, elem, n);
    }
    if (type == KV_STRING) {
        uint64_t len = read_u64(c);
        const uint8_t *p = take(c, (size_t)len);
        if (!p)
            return truncated(path);
        size_t shown = len < SHOWN_STRING ? (size_t)len : SHOWN_STRING;
        snprintf(text, size, "\"%.*s%s\"", (int)shown, (const char *)p,
                 len > shown ? "..." : "");
        return SDC_OK;
    }
    *scalar = read_le(c, (int)scalar_size(type));
    if (c->bad)
        return truncated(path);
    format_scalar(type, *scalar, text, size);
    return SDC_OK;
}

/* One key-value pair; general.alignment sets *alignment. */
static sdc_status read_kv(cursor *c, const char *path, sdc_gguf_kv *kv, uint64_t *alignment)
{
    const char *why = NULL;
    kv->key = read_string(c, SDC_GGUF_MAX_NAME, &why);
    if (!kv->key)
        return why ? sdc_fail(SDC_ERR_FORMAT, "%s: a key is %s", path, why) : truncated(path);
    uint32_t type = read_u32(c);
    if (c->bad)
        return truncated(path);
    char text[SHOWN_STRING + 16];
    uint64_t scalar = 0;
    sdc_status s = read_value(c, path, kv->key, type, text, sizeof text, &scalar);
    if (s != SDC_OK)
        return s;
    if (strcmp(kv->key, "general.alignment") == 0) {
        if (type != 4 || scalar == 0 || (scalar & (scalar - 1)) || scalar > 1u << 20)
            return sdc_fail(SDC_ERR_FORMAT, "%s: general.alignment is not a u32 power of two",
                            path);
        *alignment = scalar;
    }
    kv->value = strdup(text);
    return kv->value ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
}

/* The shape and type of one tensor info; sets numel and nbytes. */
static sdc_status check_shape(const char *path, sdc_gguf_tensor *t)
{
    const sdc_qtype_info *q = sdc_qtype_get(t->type);
    if (!q)
        return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' has unknown ggml type %u", path,
                        t->name, t->type);
    if (!q->expand)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: tensor '%s' has ggml type %s, which sdc does "
                        "not read", path, t->name, q->name);
    t->numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->ne[i] < 0 || (t->ne[i] && t->numel > INT64_MAX / 8 / t->ne[i]))
            return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' has a shape whose size overflows",
                            path, t->name);
        t->numel *= t->ne[i];
    }
    if (t->ne[0] % q->block)
        return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' has rows of %" PRId64 " elements, not "
                        "a whole number of %s blocks (%d)", path, t->name, t->ne[0], q->name,
                        q->block);
    /* numel < 2^60 and block_bytes / block <= 4 bytes per element: no overflow */
    t->nbytes = (size_t)(t->numel / q->block * q->block_bytes);
    return SDC_OK;
}

static sdc_status read_tensor_info(cursor *c, const char *path, sdc_gguf_tensor *t,
                                   uint64_t *offset)
{
    const char *why = NULL;
    t->name = read_string(c, SDC_GGUF_MAX_NAME, &why);
    if (!t->name)
        return why ? sdc_fail(SDC_ERR_FORMAT, "%s: a tensor name is %s", path, why)
                   : truncated(path);
    uint32_t ndim = read_u32(c);
    if (!c->bad && (ndim < 1 || ndim > SDC_GGUF_MAX_DIMS))
        return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' has %u dimensions (1 to %d)", path,
                        t->name, ndim, SDC_GGUF_MAX_DIMS);
    t->ndim = (int)ndim;
    for (uint32_t i = 0; i < ndim; i++)
        t->ne[i] = (int64_t)read_u64(c);
    t->type = read_u32(c);
    *offset = read_u64(c);
    return c->bad ? truncated(path) : check_shape(path, t);
}

static const char *g_path(const sdc_gguf *g) { return g->path; }

static int by_offset(const void *a, const void *b)
{
    const sdc_gguf_tensor *x = *(sdc_gguf_tensor *const *)a, *y = *(sdc_gguf_tensor *const *)b;
    return (x->data > y->data) - (x->data < y->data);
}

/* Tensor data must lie in the file and no two tensors may share bytes. */
static sdc_status check_overlaps(sdc_gguf *g)
{
    sdc_gguf_tensor **order = malloc((g->count ? g->count : 1) * sizeof *order);
    if (!order)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", g_path(g));
    for (size_t i = 0; i < g->count; i++)
        order[i] = &g->tensors[i];
    qsort(order, g->count, sizeof *order, by_offset);
    sdc_status s = SDC_OK;
    for (size_t i = 1; i < g->count && s == SDC_OK; i++)
        if (order[i]->nbytes && order[i - 1]->data + order[i - 1]->nbytes > order[i]->data)
            s = sdc_fail(SDC_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", g_path(g),
                         order[i - 1]->name, order[i]->name);
    free(order);
    return s;
}

/* Places every tensor's data at data start + offset, checking alignment and bounds. */
static sdc_status place_tensors(sdc_gguf *g, const uint64_t *offsets, uint64_t data_start,
                                uint64_t alignment)
{
    uint64_t data_size = data_start <= g->file_size ? g->file_size - data_start : 0;
    for (size_t i = 0; i < g->count; i++) {
        sdc_gguf_tensor *t = &g->tensors[i];
        if (offsets[i] % alignment)
            return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' data offset %" PRIu64 " is not a "
                            "multiple of the alignment %" PRIu64, g->path, t->name, offsets[i],
                            alignment);
        if (offsets[i] > data_size || t->nbytes > data_size - offsets[i])
            return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' data [%" PRIu64 ", +%zu) lies "
                            "outside the file (data area of %" PRIu64 " bytes)", g->path,
                            t->name, offsets[i], t->nbytes, data_size);
        t->data = g->map + data_start + offsets[i];
    }
    return check_overlaps(g);
}

/* Names must be unique (they become lookup keys). */
static sdc_status check_names(const sdc_gguf *g)
{
    sdc_name_map seen;
    if (sdc_name_map_init(&seen, g->count) != 0)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", g->path);
    sdc_status s = SDC_OK;
    for (size_t i = 0; i < g->count && s == SDC_OK; i++) {
        size_t dup;
        if (sdc_name_map_get(&seen, g->tensors[i].name, &dup))
            s = sdc_fail(SDC_ERR_FORMAT, "%s: two tensors are named '%s'", g->path,
                         g->tensors[i].name);
        else if (sdc_name_map_put(&seen, g->tensors[i].name, i) != 0)
            s = sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", g->path);
    }
    sdc_name_map_free(&seen);
    return s;
}

static sdc_status read_counts(sdc_gguf *g, cursor *c)
{
    const uint8_t *magic = take(c, 4);
    if (!magic || memcmp(magic, "GGUF", 4) != 0)
        return sdc_fail(SDC_ERR_FORMAT, "%s: not a GGUF file (no 'GGUF' magic)", g->path);
    g->version = read_u32(c);
    uint64_t tensors = read_u64(c), kvs = read_u64(c);
    if (c->bad)
        return truncated(g->path);
    if (g->version != 2 && g->version != 3)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: GGUF version %u (sdc reads 2 and 3)",
                        g->path, g->version);
    /* a tensor info takes at least 28 bytes, a pair at least 13: bounds the allocations */
    if (tensors > c->left / 28 || kvs > c->left / 13)
        return sdc_fail(SDC_ERR_FORMAT, "%s: GGUF header declares %" PRIu64 " tensors and %"
                        PRIu64 " keys, more than the file can hold", g->path, tensors, kvs);
    g->tensors = calloc(tensors ? tensors : 1, sizeof *g->tensors);
    g->kvs = calloc(kvs ? kvs : 1, sizeof *g->kvs);
    if (!g->tensors || !g->kvs)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", g->path);
    g->count = (size_t)tensors;
    g->kv_count = (size_t)kvs;
    return SDC_OK;
}

static sdc_status parse(sdc_gguf *g)
{
    cursor c = {g->map, g->file_size, 0};
    sdc_status s = read_counts(g, &c);
    uint64_t alignment = DEFAULT_ALIGNMENT;
    for (size_t i = 0; s == SDC_OK && i < g->kv_count; i++)
        s = read_kv(&c, g->path, &g->kvs[i], &alignment);
    uint64_t *offsets = s == SDC_OK ? malloc((g->count ? g->count : 1) * sizeof *offsets) : NULL;
    if (s == SDC_OK && !offsets)
        s = sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", g->path);
    for (size_t i = 0; s == SDC_OK && i < g->count; i++)
        s = read_tensor_info(&c, g->path, &g->tensors[i], &offsets[i]);
    if (s == SDC_OK)
        s = check_names(g);
    if (s == SDC_OK) {
        uint64_t header = g->file_size - c.left;
        s = place_tensors(g, offsets, (header + alignment - 1) / alignment * alignment,
                          alignment);
    }
    free(offsets);
    return s;
}

int sdc_gguf_sniff(const char *path)
{
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    if (!f)
        return 0;
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

static sdc_status map_file(sdc_gguf *g)
{
    sdc_status s = sdc_check_regular_file(g->path);
    if (s != SDC_OK)
        return s;
    int fd = open(g->path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        s = sdc_fail(SDC_ERR_IO, "%s: cannot open: %s", g->path, strerror(errno));
    } else if (sb.st_size < 24) {
        s = sdc_fail(SDC_ERR_FORMAT, "%s: GGUF header is truncated (%lld bytes)", g->path,
                     (long long)sb.st_size);
    } else {
        g->file_size = (size_t)sb.st_size;
        void *m = mmap(NULL, g->file_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            s = sdc_fail(SDC_ERR_IO, "%s: cannot map: %s", g->path, strerror(errno));
        else
            g->map = m;
        if (g->map) /* as safetensors: 2 MiB per fault where the page cache has them */
            sdc_pages_advise_huge(g->map, g->file_size);
    }
    if (fd >= 0)
        close(fd);
    return s;
}

sdc_status sdc_gguf_open(const char *path, sdc_gguf **out)
{
    *out = NULL;
    sdc_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(path))) {
        free(g);
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    }
    sdc_status s = map_file(g);
    if (s == SDC_OK)
        s = parse(g);
    if (s != SDC_OK) {
        sdc_gguf_close(g);
        return s;
    }
    *out = g;
    return SDC_OK;
}

void sdc_gguf_close(sdc_gguf *g)
{
    if (!g)
        return;
    for (size_t i = 0; g->tensors && i < g->count; i++)
        free(g->tensors[i].name);
    for (size_t i = 0; g->kvs && i < g->kv_count; i++) {
        free(g->kvs[i].key);
        free(g->kvs[i].value);
    }
    free(g->tensors);
    free(g->kvs);
    if (g->map)
        munmap((void *)g->map, g->file_size);
    free(g->path);
    free(g);
}

const char *sdc_gguf_path(const sdc_gguf *g) { return g->path; }
uint32_t sdc_gguf_version(const sdc_gguf *g) { return g->version; }
size_t sdc_gguf_file_size(const sdc_gguf *g) { return g->file_size; }
const void *sdc_gguf_map(const sdc_gguf *g) { return g->map; }
size_t sdc_gguf_count(const sdc_gguf *g) { return g->count; }
size_t sdc_gguf_kv_count(const sdc_gguf *g) { return g->kv_count; }

const sdc_gguf_tensor *sdc_gguf_tensor_at(const sdc_gguf *g, size_t index)
{
    return index < g->count ? &g->tensors[index] : NULL;
}

const sdc_gguf_kv *sdc_gguf_kv_at(const sdc_gguf *g, size_t index)
{
    return index < g->kv_count ? &g->kvs[index] : NULL;
}

void sdc_gguf_expand(const sdc_gguf_tensor *t, float *dst)
{
    const sdc_qtype_info *q = sdc_qtype_get(t->type);
    q->expand(t->data, dst, (size_t)(t->numel / q->block));
}
