/* SHA-256 (FIPS 180-4), for the AUTOMATIC1111 model hash. No crypto library is among the
 * build dependencies (zlib has none), so it is implemented here. */
#ifndef SDC_WEIGHTS_SHA256_H
#define SDC_WEIGHTS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "sdc.h"

typedef struct sdc_sha256 {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    uint8_t block[64];
    size_t fill;     /* bytes waiting in block */
} sdc_sha256;

void sdc_sha256_init(sdc_sha256 *ctx);
void sdc_sha256_update(sdc_sha256 *ctx, const void *data, size_t n);
void sdc_sha256_final(sdc_sha256 *ctx, uint8_t digest[32]);
/* Lower-case hex of a digest, NUL-terminated. */
void sdc_sha256_hex(const uint8_t digest[32], char hex[65]);
/* Hashes a whole file through a read-only mapping, chunk by chunk, releasing each chunk's
 * pages after use so memory does not grow with the file. */
sdc_status sdc_sha256_file(const char *path, uint8_t digest[32]);

#endif
