/* libzip reads the archive through a source callback over our mapping. That callback also
 * tells where a stored member's data starts: libzip parses the local header (ZIP64 included)
 * and then reads the first data byte at exactly that offset, which we note and then verify
 * against the mapping. So no zip structure is parsed here. */
#include "weights/zip_archive.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "ops/error.h"

/* What libzip reads from: the mapped file and the position of the last read. */
typedef struct map_source {
    const uint8_t *map;
    uint64_t size;
    uint64_t pos;
    uint64_t last_read; /* offset of the most recent READ; UINT64_MAX before any */
    zip_error_t error;
} map_source;

/* A compressed member's address space, reserved (PROT_NONE: no memory) when first asked
 * for, so tensors can point into it; filled by inflating on first use (sdc_zip_load). */
typedef struct member {
    uint8_t *region; /* NULL until reserved */
    uint64_t size;   /* inflated bytes */
    int loaded;
} member;

struct sdc_zip {
    char *path;
    map_source src;
    zip_t *archive;
    size_t count;
    member *members;     /* per member: the reserved space of a compressed one */
    uint64_t inflated_total;
};

static zip_int64_t source_read(map_source *s, void *data, zip_uint64_t len)
{
    uint64_t left = s->pos < s->size ? s->size - s->pos : 0;
    uint64_t n = len < left ? len : left;
    if (n)
        memcpy(data, s->map + s->pos, (size_t)n);
    s->last_read = s->pos;
    s->pos += n;
    return (zip_int64_t)n;
}

static zip_int64_t source_callback(void *user, void *data, zip_uint64_t len,
                                   zip_source_cmd_t cmd)
{
    map_source *s = user;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        s->pos = 0;
        return 0;
    case ZIP_SOURCE_READ:
        return source_read(s, data, len);
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_FREE:
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &s->error);
        if (!st)
            return -1;
        zip_stat_init(st);
        st->size = s->size;
        st->valid |= ZIP_STAT_SIZE;
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&s->error, data, len);
    case ZIP_SOURCE_SEEK: {
        zip_int64_t pos = zip_source_seek_compute_offset(s->pos, s->size, data, len, &s->error);
        if (pos < 0)
            return -1;
        s->pos = (uint64_t)pos;
        return 0;
    }
    case ZIP_SOURCE_TELL:
        return (zip_int64_t)s->pos;
    case ZIP_SOURCE_SUPPORTS:
        return ZIP_SOURCE_SUPPORTS_SEEKABLE;
    default:
        zip_error_set(&s->error, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

static sdc_status map_file(sdc_zip *z)
{
    int fd = open(z->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open: %s", z->path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        close(fd);
        return sdc_fail(SDC_ERR_IO, "%s: not a regular, non-empty file", z->path);
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return sdc_fail(SDC_ERR_IO, "%s: cannot map: %s", z->path, strerror(errno));
    z->src.map = map;
    z->src.size = (uint64_t)sb.st_size;
    return SDC_OK;
}

static sdc_status open_archive(sdc_zip *z)
{
    zip_error_t err;
    zip_error_init(&err);
    zip_error_init(&z->src.error);
    zip_source_t *source = zip_source_function_create(source_callback, &z->src, &err);
    if (source)
        z->archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z->archive) {
        sdc_status s = sdc_fail(SDC_ERR_FORMAT, "%s: not a readable zip archive (%s)", z->path,
                                zip_error_strerror(&err));
        zip_source_free(source);
        zip_error_fini(&err);
        return s;
    }
    zip_error_fini(&err);
    zip_int64_t n = zip_get_num_entries(z->archive, 0);
    z->count = n > 0 ? (size_t)n : 0;
    z->members = calloc(z->count ? z->count : 1, sizeof *z->members);
    return z->members ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", z->path);
}

sdc_status sdc_zip_open(const char *path, sdc_zip **out)
{
    *out = NULL;
    sdc_zip *z = calloc(1, sizeof *z);
    if (!z || !(z->path = strdup(path))) {
        free(z);
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    }
    sdc_status s = map_file(z);
    if (s == SDC_OK)
        s = open_archive(z);
    if (s != SDC_OK) {
        sdc_zip_close(z);
        return s;
    }
    *out = z;
    return SDC_OK;
}

void sdc_zip_close(sdc_zip *z)
{
    if (!z)
        return;
    if (z->archive)
        zip_discard(z->archive);
    for (size_t i = 0; z->members && i < z->count; i++)
        if (z->members[i].region)
            munmap(z->members[i].region, z->members[i].size ? (size_t)z->members[i].size : 1);
    free(z->members);
    if (z->src.map)
        munmap((void *)z->src.map, (size_t)z->src.size);
    zip_error_fini(&z->src.error);
    free(z->path);
    free(z);
}

const char *sdc_zip_path(const sdc_zip *z) { return z->path; }
size_t sdc_zip_file_size(const sdc_zip *z) { return (size_t)z->src.size; }
size_t sdc_zip_count(const sdc_zip *z) { return z->count; }

const char *sdc_zip_name(const sdc_zip *z, size_t index)
{
    return index < z->count ? zip_get_name(z->archive, index, ZIP_FL_ENC_RAW) : NULL;
}

int sdc_zip_find(const sdc_zip *z, const char *name, size_t *index)
{
    zip_int64_t i = zip_name_locate(z->archive, name, ZIP_FL_ENC_RAW);
    if (i < 0 || (uint64_t)i >= z->count)
        return 0;
    *index = (size_t)i;
    return 1;
}

uint64_t sdc_zip_size(const sdc_zip *z, size_t index)
{
    zip_stat_t st;
    if (index >= z->count || zip_stat_index(z->archive, index, 0, &st) != 0 ||
        !(st.valid & ZIP_STAT_SIZE))
        return 0;
    return st.size;
}

static sdc_status member_error(const sdc_zip *z, const char *name, const char *what,
                               zip_file_t *f)
{
    const char *why = f ? zip_file_strerror(f) : zip_strerror(z->archive);
    return sdc_fail(SDC_ERR_FORMAT, "%s: zip member '%s': %s (%s)", z->path, name, what, why);
}

/* Finds where a stored member's data lies in the mapping (see the comment at the top). */
static sdc_status locate_stored(sdc_zip *z, size_t index, const char *name, uint64_t size,
                                const uint8_t **data)
{
    if (size == 0) {
        *data = z->src.map;
        return SDC_OK;
    }
    zip_file_t *f = zip_fopen_index(z->archive, index, 0);
    if (!f)
        return member_error(z, name, "cannot open", NULL);
    uint8_t probe[16];
    size_t want = size < sizeof probe ? (size_t)size : sizeof probe;
    z->src.last_read = UINT64_MAX;
    zip_int64_t got = zip_fread(f, probe, want);
    uint64_t at = z->src.last_read;
    sdc_status s = SDC_OK;
    if (got != (zip_int64_t)want)
        s = member_error(z, name, "cannot read", f);
    else if (at == UINT64_MAX || at > z->src.size || size > z->src.size - at ||
             memcmp(z->src.map + at, probe, want) != 0)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: zip member '%s' does not lie inside the file",
                     z->path, name);
    zip_fclose(f);
    if (s == SDC_OK)
        *data = z->src.map + at;
    return s;
}

/* Reserves a compressed member's inflated size of address space, no memory yet. */
static sdc_status reserve_member(sdc_zip *z, size_t index, const char *name, uint64_t size)
{
    member *m = &z->members[index];
    if (m->region)
        return SDC_OK;
    if (size > SIZE_MAX / 2)
        return sdc_fail(SDC_ERR_FORMAT, "%s: zip member '%s' is too large", z->path, name);
    void *region = mmap(NULL, size ? (size_t)size : 1, PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED)
        return sdc_fail(SDC_ERR_NOMEM, "%s: no address space for '%s': %s", z->path, name,
                        strerror(errno));
    m->region = region;
    m->size = size;
    return SDC_OK;
}

/* Inflates a reserved member into its region, never beyond its declared size. */
static sdc_status inflate_member(sdc_zip *z, size_t index)
{
    member *m = &z->members[index];
    const char *name = sdc_zip_name(z, index);
    uint64_t size = m->size;
    if (size > SDC_ZIP_MAX_INFLATED - z->inflated_total)
        return sdc_fail(SDC_ERR_FORMAT, "%s: compressed members inflate to more than %llu bytes",
                        z->path, (unsigned long long)SDC_ZIP_MAX_INFLATED);
    uint8_t *buf = m->region;
    if (size && mprotect(buf, (size_t)size, PROT_READ | PROT_WRITE) != 0)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory inflating '%s'", z->path, name);
    zip_file_t *f = zip_fopen_index(z->archive, index, 0);
    sdc_status s = f ? SDC_OK : member_error(z, name, "cannot open", NULL);
    uint64_t done = 0;
    while (s == SDC_OK && done < size) {
        zip_int64_t got = zip_fread(f, buf + done, size - done);
        if (got <= 0)
            s = member_error(z, name, "inflates to less than its declared size", f);
        else
            done += (uint64_t)got;
    }
    uint8_t extra;
    if (s == SDC_OK && zip_fread(f, &extra, 1) != 0) /* also makes libzip check the CRC */
        s = member_error(z, name, "inflates to more than its declared size or is corrupt", f);
    if (f)
        zip_fclose(f);
    if (size && s != SDC_OK) /* a failed member gives its memory back and stays unreadable */
        madvise(buf, (size_t)size, MADV_DONTNEED);
    if (size)
        mprotect(buf, (size_t)size, s == SDC_OK ? PROT_READ : PROT_NONE);
    if (s != SDC_OK)
        return s;
    m->loaded = 1;
    z->inflated_total += size;
    return SDC_OK;
}

/* Checks member `index` and finds its bytes: stored ones in the mapping, compressed ones
 * in their reserved region (reserved here, not inflated). */
static sdc_status find_bytes(sdc_zip *z, size_t index, uint64_t max_size, const uint8_t **data,
                             size_t *size)
{
    zip_stat_t st;
    const char *name = sdc_zip_name(z, index);
    if (!name || zip_stat_index(z->archive, index, 0, &st) != 0)
        return sdc_fail(SDC_ERR_FORMAT, "%s: zip member %zu cannot be read", z->path, index);
    const zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD |
                              ZIP_STAT_ENCRYPTION_METHOD;
    if ((st.valid & need) != need || st.encryption_method != ZIP_EM_NONE)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: zip member '%s' is encrypted or lacks sizes",
                        z->path, name);
    if (st.size > max_size)
        return sdc_fail(SDC_ERR_FORMAT, "%s: zip member '%s' holds %llu bytes, more than the "
                        "%llu allowed", z->path, name, (unsigned long long)st.size,
                        (unsigned long long)max_size);
    *size = (size_t)st.size;
    if (st.comp_method == ZIP_CM_STORE) {
        if (st.comp_size != st.size)
            return sdc_fail(SDC_ERR_FORMAT, "%s: stored zip member '%s' has two sizes", z->path,
                            name);
        return locate_stored(z, index, name, st.size, data);
    }
    if (st.comp_method != ZIP_CM_DEFLATE)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: zip member '%s' uses compression method %u "
                        "(sdc reads stored and deflated members)", z->path, name,
                        (unsigned)st.comp_method);
    if (st.size / SDC_ZIP_MAX_RATIO > st.comp_size)
        return sdc_fail(SDC_ERR_FORMAT, "%s: zip member '%s' claims to inflate %llu bytes to "
                        "%llu (a decompression bomb or a corrupt file)", z->path, name,
                        (unsigned long long)st.comp_size, (unsigned long long)st.size);
    sdc_status s = reserve_member(z, index, name, st.size);
    *data = z->members[index].region;
    return s;
}

sdc_status sdc_zip_view(sdc_zip *z, size_t index, uint64_t max_size, const uint8_t **data,
                        size_t *size)
{
    return find_bytes(z, index, max_size, data, size);
}

sdc_status sdc_zip_load(sdc_zip *z, const void *data, size_t nbytes)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < z->count; i++) {
        member *m = &z->members[i];
        if (!m->region || m->loaded || p < m->region || p > m->region + m->size ||
            nbytes > (size_t)(m->region + m->size - p))
            continue;
        return inflate_member(z, i);
    }
    return SDC_OK;
}

sdc_status sdc_zip_read(sdc_zip *z, size_t index, uint64_t max_size, const uint8_t **data,
                        size_t *size)
{
    sdc_status s = find_bytes(z, index, max_size, data, size);
    if (s == SDC_OK && z->members[index].region && !z->members[index].loaded)
        s = inflate_member(z, index);
    return s;
}
