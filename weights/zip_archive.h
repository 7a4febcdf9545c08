/* Zip archives (PyTorch .ckpt / .pt files) read with libzip from one read-only mapping of
 * the file. Stored (uncompressed) members are handed out as views into that mapping, so a
 * multi-GB checkpoint costs no copy; compressed members are inflated into address space the
 * archive reserves for them, within the bounds below (a member that claims more, or inflates
 * to more than it claims, is refused before the memory is taken), and only when first used:
 * a tensor nobody reads costs nothing. */
#ifndef SDC_WEIGHTS_ZIP_ARCHIVE_H
#define SDC_WEIGHTS_ZIP_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "sdc.h"

/* All compressed members of one archive together inflate to at most this many bytes. */
#define SDC_ZIP_MAX_INFLATED ((uint64_t)4 << 30)
/* Deflate cannot expand beyond 1032:1; a member claiming more is a bomb or corrupt. */
#define SDC_ZIP_MAX_RATIO 1100u

typedef struct sdc_zip sdc_zip;

/* Maps `path` and reads its central directory (strict consistency checks). On failure *out
 * is NULL and the message names the file. */
sdc_status sdc_zip_open(const char *path, sdc_zip **out);
void sdc_zip_close(sdc_zip *zip);

const char *sdc_zip_path(const sdc_zip *zip);
size_t sdc_zip_file_size(const sdc_zip *zip);
size_t sdc_zip_count(const sdc_zip *zip);
/* Name of member `index`, or NULL. */
const char *sdc_zip_name(const sdc_zip *zip, size_t index);
/* Returns 1 and sets *index when a member is named exactly `name`. */
int sdc_zip_find(const sdc_zip *zip, const char *name, size_t *index);
/* Uncompressed size of member `index` as its directory entry declares it. */
uint64_t sdc_zip_size(const sdc_zip *zip, size_t index);

/* The bytes of member `index` (at most `max_size` of them, else an error): a view into the
 * mapping when stored, an owned buffer when compressed (inflated once, then reused). Valid
 * until sdc_zip_close. Encrypted members and methods other than store / deflate are
 * refused. */
sdc_status sdc_zip_read(sdc_zip *zip, size_t index, uint64_t max_size, const uint8_t **data,
                        size_t *size);
/* The same checks and address, without inflating a compressed member: its bytes may not be
 * read (they are mapped PROT_NONE) until sdc_zip_load has inflated them. */
sdc_status sdc_zip_view(sdc_zip *zip, size_t index, uint64_t max_size, const uint8_t **data,
                        size_t *size);
/* Inflates the compressed member holding [data, data + nbytes), once; SDC_OK and nothing
 * done for bytes of no such member (stored ones, other files). */
sdc_status sdc_zip_load(sdc_zip *zip, const void *data, size_t nbytes);

#endif
