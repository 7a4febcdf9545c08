/* safetensors reader: the file is memory-mapped, its JSON header parsed with jansson and
 * validated completely before any tensor is exposed. Tensors are looked up by name through
 * a hash table; their data points into the mapping (read-only, never copied unless the
 * file stores it misaligned for its dtype). */
#ifndef SDC_WEIGHTS_SAFETENSORS_H
#define SDC_WEIGHTS_SAFETENSORS_H

#include <stddef.h>

#include "ops/tensor.h"
#include "sdc.h"

/* Largest header accepted (the biggest real checkpoints have headers of a few MB). */
#define SDC_SAFETENSORS_MAX_HEADER (100u << 20)

typedef struct sdc_st_entry {
    const char *name;
    sdc_tensor tensor;
    size_t nbytes;
} sdc_st_entry;

typedef struct sdc_safetensors sdc_safetensors;

/* Maps and validates `path`. On failure *out is NULL and the message names the file. */
sdc_status sdc_safetensors_open(const char *path, sdc_safetensors **out);
/* SDC_OK for a regular file; a FIFO, device or socket is refused before open() could block
 * on it (or read without end), a folder too, each with a message naming the path. */
sdc_status sdc_check_regular_file(const char *path);
void sdc_safetensors_close(sdc_safetensors *st);

const char *sdc_safetensors_path(const sdc_safetensors *st);
size_t sdc_safetensors_count(const sdc_safetensors *st);
/* Entries in file order of their data offsets. */
const sdc_st_entry *sdc_safetensors_entry(const sdc_safetensors *st, size_t index);
/* NULL when absent. */
const sdc_st_entry *sdc_safetensors_find(const sdc_safetensors *st, const char *name);
/* Value of a "__metadata__" string key, or NULL. */
const char *sdc_safetensors_metadata(const sdc_safetensors *st, const char *key);
/* Size of the whole file in bytes. */
size_t sdc_safetensors_file_size(const sdc_safetensors *st);
/* Tells the kernel that the pages wholly inside [data, data + nbytes) of this file's mapping
 * are not needed for a while: they leave the process's resident set (the page cache keeps
 * them; the next read maps them again, so the data never changes). Ranges outside the
 * mapping are ignored. Returns the bytes released. */
size_t sdc_safetensors_release(const sdc_safetensors *st, const void *data, size_t nbytes);

/* Maps the pages of [data, data + nbytes) of this file's mapping now, in bulk (ops/pages.h:
 * sdc_pages_populate), so that a stage about to read them does not fault them in one at a
 * time. Ranges outside the mapping are ignored. Returns the bytes of the pages populated. */
size_t sdc_safetensors_populate(const sdc_safetensors *st, const void *data, size_t nbytes);

/* A table over tensors another reader found (weights/ckpt.c): `entries` are copied and
 * indexed (names must be unique), their names and data stay owned by `owner`, which
 * sdc_safetensors_close hands to release(). Takes `owner` even when it fails. Such a table
 * has no metadata. */
sdc_status sdc_safetensors_wrap(const char *path, size_t file_size, const sdc_st_entry *entries,
                                size_t count, void (*release)(void *owner), void *owner,
                                sdc_safetensors **out);

/* Wrapped tables whose data is produced on first use (weights/ckpt.c: compressed members
 * are inflated only when a tensor in them is used): until sdc_safetensors_load has been
 * called for a tensor's bytes, they may not be read. A plain safetensors file, or a table
 * without a loader, is always readable and load does nothing. */
void sdc_safetensors_set_loader(sdc_safetensors *st,
                                sdc_status (*load)(void *owner, const void *data, size_t nbytes));
/* A wrapped table whose owner maps the file read-only at `map` (size bytes): its pages can
 * then be released (sdc_safetensors_release); the owner still unmaps it. */
void sdc_safetensors_set_mapping(sdc_safetensors *st, const void *map, size_t size);
/* Makes [data, data + nbytes) of this file's tensors readable. */
sdc_status sdc_safetensors_load(const sdc_safetensors *st, const void *data, size_t nbytes);

#endif
