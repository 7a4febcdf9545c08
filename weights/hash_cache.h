/* A per-user cache of model file hashes, so the AUTOMATIC1111 model hash written into every
 * picture's metadata does not cost a full read of a multi-GB checkpoint on each run.
 *
 * File: $SDC_CACHE_DIR/hashes.tsv, else $XDG_CACHE_HOME/sdc/hashes.tsv, else
 * $HOME/.cache/sdc/hashes.tsv; one line per file: sha256, size, mtime (s.ns), real path.
 * An entry counts only while the file's size and modification time are unchanged. The cache
 * is an optimisation: when it cannot be read or written the hash is computed as usual. */
#ifndef SDC_WEIGHTS_HASH_CACHE_H
#define SDC_WEIGHTS_HASH_CACHE_H

#include "sdc.h"

/* Lower-case hex SHA-256 of the file at `path`, from the cache when still valid. */
sdc_status sdc_file_sha256_cached(const char *path, char hex[65]);

#endif
