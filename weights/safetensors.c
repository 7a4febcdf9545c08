#include "weights/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops/error.h"
#include "ops/pages.h"
#include "weights/name_map.h"

struct sdc_safetensors {
    char *path;
    const uint8_t *map;
    size_t file_size;
    json_t *header;        /* owns the name strings the entries point to */
    sdc_st_entry *entries; /* sorted by data offset */
    size_t count;
    sdc_name_map index;    /* name -> entry index */
    void **copies;         /* aligned copies of misaligned tensors */
    size_t copy_count;
    void (*release)(void *owner); /* wrapped tables: what owns names and data */
    void *owner;
    sdc_status (*load)(void *owner, const void *data, size_t nbytes); /* or NULL */
    int map_borrowed; /* map belongs to `owner` (sdc_safetensors_set_mapping) */
};

static int read_u64_le(const uint8_t *p, uint64_t *v)
{
    *v = 0;
    for (int i = 7; i >= 0; i--)
        *v = (*v << 8) | p[i];
    return 0;
}

/* Parses one header entry's dtype and shape; sets *numel. */
static sdc_status parse_shape(const char *path, const char *name, json_t *value,
                              sdc_st_entry *e, uint64_t *numel)
{
    json_t *dtype = json_object_get(value, "dtype");
    json_t *shape = json_object_get(value, "shape");
    if (!json_is_string(dtype) || !json_is_array(shape))
        return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' lacks a dtype string or shape array",
                        path, name);
    int dt = sdc_dtype_from_name(json_string_value(dtype));
    if (dt < 0)
        return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", path, name,
                        json_string_value(dtype));
    size_t ndim = json_array_size(shape);
    if (ndim > SDC_MAX_DIMS)
        return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' has %zu dimensions (at most %d)",
                        path, name, ndim, SDC_MAX_DIMS);
    e->tensor.dtype = (sdc_dtype)dt;
    e->tensor.ndim = (int)ndim;
    *numel = 1;
    for (size_t i = 0; i < ndim; i++) {
        json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' has a bad dimension", path, name);
        uint64_t n = (uint64_t)json_integer_value(d);
        if (n != 0 && *numel > UINT64_MAX / n / 8)
            return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' shape product overflows", path,
                            name);
        *numel *= n;
        e->tensor.shape[i] = (int64_t)n;
    }
    return SDC_OK;
}

/* Parses and checks one header entry against the data area of `data_size` bytes. */
static sdc_status parse_entry(const char *path, const char *name, json_t *value,
                              uint64_t data_size, sdc_st_entry *e, uint64_t *begin)
{
    if (!json_is_object(value))
        return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' is not a JSON object", path, name);
    uint64_t numel = 0;
    sdc_status s = parse_shape(path, name, value, e, &numel);
    if (s != SDC_OK)
        return s;
    json_t *offs = json_object_get(value, "data_offsets");
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        !json_is_integer(json_array_get(offs, 0)) || !json_is_integer(json_array_get(offs, 1)))
        return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' lacks data_offsets [begin, end]", path,
                        name);
    json_int_t b = json_integer_value(json_array_get(offs, 0));
    json_int_t en = json_integer_value(json_array_get(offs, 1));
    if (b < 0 || en < 0 || b > en)
        return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' has data_offsets begin > end", path,
                        name);
    if ((uint64_t)en > data_size)
        return sdc_fail(SDC_ERR_FORMAT,
                        "%s: tensor '%s' data [%lld, %lld) lies outside the data area (%llu bytes)",
                        path, name, (long long)b, (long long)en, (unsigned long long)data_size);
    uint64_t want = numel * sdc_dtype_size(e->tensor.dtype);
    if ((uint64_t)(en - b) != want)
        return sdc_fail(SDC_ERR_FORMAT,
                        "%s: tensor '%s' holds %lld bytes but its shape and dtype need %llu",
                        path, name, (long long)(en - b), (unsigned long long)want);
    e->name = name;
    e->nbytes = (size_t)want;
    *begin = (uint64_t)b;
    return SDC_OK;
}

static int compare_data(const void *a, const void *b)
{
    const sdc_st_entry *x = a, *y = b;
    uintptr_t px = (uintptr_t)x->tensor.data, py = (uintptr_t)y->tensor.data;
    if (px != py)
        return px < py ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* Gives every misaligned tensor an aligned private copy (rare; keeps kernels UB-free). */
static sdc_status align_tensors(sdc_safetensors *st)
{
    for (size_t i = 0; i < st->count; i++) {
        sdc_st_entry *e = &st->entries[i];
        size_t align = sdc_dtype_size(e->tensor.dtype);
        if (e->nbytes == 0 || (uintptr_t)e->tensor.data % align == 0)
            continue;
        void **grown = realloc(st->copies, (st->copy_count + 1) * sizeof *grown);
        if (!grown)
            return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", st->path);
        st->copies = grown;
        void *copy = aligned_alloc(64, (e->nbytes + 63) & ~(size_t)63);
        if (!copy)
            return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory copying '%s'", st->path, e->name);
        memcpy(copy, e->tensor.data, e->nbytes);
        st->copies[st->copy_count++] = copy;
        e->tensor.data = copy;
    }
    return SDC_OK;
}

static sdc_status parse_header(sdc_safetensors *st, const char *text, size_t len,
                               uint64_t data_size, const uint8_t *data)
{
    json_error_t jerr;
    st->header = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!st->header)
        return sdc_fail(SDC_ERR_FORMAT, "%s: header is not valid JSON (%s)", st->path,
                        jerr.text);
    if (!json_is_object(st->header))
        return sdc_fail(SDC_ERR_FORMAT, "%s: header is not a JSON object", st->path);
    size_t n = json_object_size(st->header);
    st->entries = calloc(n ? n : 1, sizeof *st->entries);
    if (!st->entries)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", st->path);
    const char *key;
    json_t *value;
    json_object_foreach(st->header, key, value) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        sdc_st_entry *e = &st->entries[st->count];
        uint64_t begin = 0;
        sdc_status s = parse_entry(st->path, key, value, data_size, e, &begin);
        if (s != SDC_OK)
            return s;
        e->tensor.data = data + begin;
        st->count++;
    }
    qsort(st->entries, st->count, sizeof *st->entries, compare_data);
    for (size_t i = 1; i < st->count; i++) {
        const sdc_st_entry *a = &st->entries[i - 1], *b = &st->entries[i];
        if ((const uint8_t *)a->tensor.data + a->nbytes > (const uint8_t *)b->tensor.data)
            return sdc_fail(SDC_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", st->path,
                            a->name, b->name);
    }
    if (sdc_name_map_init(&st->index, st->count) != 0)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", st->path);
    for (size_t i = 0; i < st->count; i++)
        sdc_name_map_put(&st->index, st->entries[i].name, i);
    return align_tensors(st);
}

static sdc_status map_file(sdc_safetensors *st)
{
    int fd = open(st->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open: %s", st->path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sdc_fail(SDC_ERR_IO, "%s: not a regular file", st->path);
    }
    if (sb.st_size < 8) {
        close(fd);
        return sdc_fail(SDC_ERR_FORMAT, "%s: file is too short to be safetensors (%lld bytes)",
                        st->path, (long long)sb.st_size);
    }
    st->file_size = (size_t)sb.st_size;
    void *map = mmap(NULL, st->file_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return sdc_fail(SDC_ERR_IO, "%s: cannot map: %s", st->path, strerror(errno));
    st->map = map;
    /* Weights are read whole, once per stage: huge pages where the page cache has them (or
     * makes them when it reads the file) map 2 MiB per fault instead of 4 KiB (ops/pages.h). */
    sdc_pages_advise_huge(map, st->file_size);
    return SDC_OK;
}

sdc_status sdc_check_regular_file(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISREG(sb.st_mode))
        return SDC_OK;
    const char *kind = S_ISDIR(sb.st_mode)  ? "a folder"
                       : S_ISFIFO(sb.st_mode) ? "a FIFO"
                       : S_ISSOCK(sb.st_mode) ? "a socket"
                                              : "a device";
    return sdc_fail(SDC_ERR_IO, "%s: not a regular file (%s)", path, kind);
}

sdc_status sdc_safetensors_open(const char *path, sdc_safetensors **out)
{
    *out = NULL;
    sdc_status regular = sdc_check_regular_file(path);
    if (regular != SDC_OK)
        return regular;
    sdc_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    }
    sdc_status s = map_file(st);
    if (s == SDC_OK) {
        uint64_t header_len;
        read_u64_le(st->map, &header_len);
        if (header_len > SDC_SAFETENSORS_MAX_HEADER || header_len > st->file_size - 8)
            s = sdc_fail(SDC_ERR_FORMAT,
                         "%s: header length %llu is larger than the file or the %u-byte limit",
                         path, (unsigned long long)header_len, SDC_SAFETENSORS_MAX_HEADER);
        else
            s = parse_header(st, (const char *)st->map + 8, (size_t)header_len,
                             st->file_size - 8 - header_len, st->map + 8 + header_len);
    }
    if (s != SDC_OK) {
        sdc_safetensors_close(st);
        return s;
    }
    *out = st;
    return SDC_OK;
}

void sdc_safetensors_close(sdc_safetensors *st)
{
    if (!st)
        return;
    if (st->map && !st->map_borrowed)
        munmap((void *)st->map, st->file_size);
    for (size_t i = 0; i < st->copy_count; i++)
        free(st->copies[i]);
    free(st->copies);
    sdc_name_map_free(&st->index);
    free(st->entries);
    json_decref(st->header);
    if (st->release)
        st->release(st->owner);
    free(st->path);
    free(st);
}

sdc_status sdc_safetensors_wrap(const char *path, size_t file_size, const sdc_st_entry *entries,
                                size_t count, void (*release)(void *owner), void *owner,
                                sdc_safetensors **out)
{
    *out = NULL;
    sdc_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        release(owner);
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    }
    st->release = release;
    st->owner = owner;
    st->file_size = file_size;
    st->path = strdup(path);
    st->entries = malloc((count ? count : 1) * sizeof *st->entries);
    sdc_status s = st->path && st->entries && sdc_name_map_init(&st->index, count) == 0
                       ? SDC_OK
                       : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; s == SDC_OK && i < count; i++) {
        size_t dup;
        if (sdc_name_map_get(&st->index, entries[i].name, &dup))
            s = sdc_fail(SDC_ERR_FORMAT, "%s: two tensors are named '%s'", path, entries[i].name);
        else if (sdc_name_map_put(&st->index, entries[i].name, i) != 0)
            s = sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
        else
            st->entries[st->count++] = entries[i];
    }
    if (s != SDC_OK) {
        sdc_safetensors_close(st);
        return s;
    }
    *out = st;
    return SDC_OK;
}

const char *sdc_safetensors_path(const sdc_safetensors *st) { return st->path; }
size_t sdc_safetensors_count(const sdc_safetensors *st) { return st->count; }
size_t sdc_safetensors_file_size(const sdc_safetensors *st) { return st->file_size; }

/* Whether [data, data + nbytes) is a non-empty range inside this file's own mapping. */
static int in_mapping(const sdc_safetensors *st, const void *data, size_t nbytes)
{
    uintptr_t lo = (uintptr_t)data, map = (uintptr_t)st->map;
    return st->map && nbytes && lo >= map && lo - map < st->file_size &&
           nbytes <= st->file_size - (lo - map);
}

size_t sdc_safetensors_release(const sdc_safetensors *st, const void *data, size_t nbytes)
{
    if (!in_mapping(st, data, nbytes))
        return 0;
    uintptr_t lo = (uintptr_t)data, page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = (lo + page - 1) / page * page, end = (lo + nbytes) / page * page;
    if (end <= first)
        return 0;
    /* The mapping is read-only and private: no page can hold changes that this would lose. */
    return madvise((void *)first, end - first, MADV_DONTNEED) == 0 ? end - first : 0;
}

size_t sdc_safetensors_populate(const sdc_safetensors *st, const void *data, size_t nbytes)
{
    return in_mapping(st, data, nbytes) ? sdc_pages_populate(data, nbytes) : 0;
}

const sdc_st_entry *sdc_safetensors_entry(const sdc_safetensors *st, size_t index)
{
    return index < st->count ? &st->entries[index] : NULL;
}

const sdc_st_entry *sdc_safetensors_find(const sdc_safetensors *st, const char *name)
{
    size_t i;
    return sdc_name_map_get(&st->index, name, &i) ? &st->entries[i] : NULL;
}

const char *sdc_safetensors_metadata(const sdc_safetensors *st, const char *key)
{
    json_t *meta = json_object_get(st->header, "__metadata__");
    json_t *v = json_object_get(meta, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

void sdc_safetensors_set_mapping(sdc_safetensors *st, const void *map, size_t size)
{
    st->map = map;
    st->file_size = size;
    st->map_borrowed = 1;
}

void sdc_safetensors_set_loader(sdc_safetensors *st,
                                sdc_status (*load)(void *owner, const void *data, size_t nbytes))
{
    st->load = load;
}

sdc_status sdc_safetensors_load(const sdc_safetensors *st, const void *data, size_t nbytes)
{
    return st->load && nbytes ? st->load(st->owner, data, nbytes) : SDC_OK;
}
