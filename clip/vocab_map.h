/* Fixed-capacity open-addressing hash maps of the BPE vocabulary (internal):
 * token string -> id, and (left id, right id) -> merge rank and merged id.
 * Capacities are set once from the counts a vocabulary file declares. */
#ifndef SDC_CLIP_VOCAB_MAP_H
#define SDC_CLIP_VOCAB_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdc.h"

/* Token strings live in a caller-owned pool; the map stores ids and reads keys through
 * (pool, off[id], len[id]). */
typedef struct sdc_strmap {
    int32_t *slots; /* [cap] id or -1 */
    size_t cap, count;
} sdc_strmap;

sdc_status sdc_strmap_init(sdc_strmap *m, size_t max_count);
void sdc_strmap_free(sdc_strmap *m);
/* Id of key s[0..len) or -1. */
int32_t sdc_strmap_get(const sdc_strmap *m, const char *pool, const uint32_t *off,
                       const uint32_t *len, const char *s, size_t len_s);
/* Maps the string of token `id` to id; an existing equal string is re-pointed to it (the
 * later id wins, as in a Python dict built from a list). */
sdc_status sdc_strmap_put(sdc_strmap *m, const char *pool, const uint32_t *off,
                          const uint32_t *len, int32_t id);

typedef struct sdc_pair_entry {
    uint64_t key; /* left << 32 | right; UINT64_MAX when empty */
    int32_t rank, merged;
} sdc_pair_entry;

typedef struct sdc_pairmap {
    sdc_pair_entry *slots;
    size_t cap, count;
} sdc_pairmap;

sdc_status sdc_pairmap_init(sdc_pairmap *m, size_t max_count);
void sdc_pairmap_free(sdc_pairmap *m);
/* Sets (left, right) -> (rank, merged), replacing an earlier rank (the later line wins). */
sdc_status sdc_pairmap_put(sdc_pairmap *m, int32_t left, int32_t right, int32_t rank,
                           int32_t merged);
const sdc_pair_entry *sdc_pairmap_get(const sdc_pairmap *m, int32_t left, int32_t right);

#endif
