#include "clip/vocab_map.h"

#include <stdlib.h>
#include <string.h>

#include "ops/error.h"

/* Power of two at least twice max_count, so probes stay short. */
static sdc_status table_capacity(size_t max_count, size_t *cap)
{
    size_t c = 16;
    while (c < 2 * max_count) {
        if (c > SIZE_MAX / 4)
            return sdc_fail(SDC_ERR_NOMEM, "vocabulary of %zu entries is too large", max_count);
        c *= 2;
    }
    *cap = c;
    return SDC_OK;
}

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

sdc_status sdc_strmap_init(sdc_strmap *m, size_t max_count)
{
    memset(m, 0, sizeof *m);
    sdc_status st = table_capacity(max_count, &m->cap);
    if (st)
        return st;
    m->slots = malloc(m->cap * sizeof *m->slots);
    if (!m->slots)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for a vocabulary of %zu", max_count);
    memset(m->slots, 0xFF, m->cap * sizeof *m->slots); /* all -1 */
    return SDC_OK;
}

void sdc_strmap_free(sdc_strmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* Slot holding key s, or the empty slot where it would go. */
static size_t strmap_slot(const sdc_strmap *m, const char *pool, const uint32_t *off,
                          const uint32_t *len, const char *s, size_t len_s)
{
    size_t i = (size_t)hash_bytes(s, len_s) & (m->cap - 1);
    for (;;) {
        int32_t id = m->slots[i];
        if (id < 0 || (len[id] == len_s && memcmp(pool + off[id], s, len_s) == 0))
            return i;
        i = (i + 1) & (m->cap - 1);
    }
}

int32_t sdc_strmap_get(const sdc_strmap *m, const char *pool, const uint32_t *off,
                       const uint32_t *len, const char *s, size_t len_s)
{
    return m->slots[strmap_slot(m, pool, off, len, s, len_s)];
}

sdc_status sdc_strmap_put(sdc_strmap *m, const char *pool, const uint32_t *off,
                          const uint32_t *len, int32_t id)
{
    size_t i = strmap_slot(m, pool, off, len, pool + off[id], len[id]);
    if (m->slots[i] < 0) {
        if (2 * (m->count + 1) > m->cap)
            return sdc_fail(SDC_ERR_FORMAT, "vocabulary holds more tokens than it declares");
        m->count++;
    }
    m->slots[i] = id;
    return SDC_OK;
}

sdc_status sdc_pairmap_init(sdc_pairmap *m, size_t max_count)
{
    memset(m, 0, sizeof *m);
    sdc_status st = table_capacity(max_count, &m->cap);
    if (st)
        return st;
    m->slots = malloc(m->cap * sizeof *m->slots);
    if (!m->slots)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for %zu merges", max_count);
    for (size_t i = 0; i < m->cap; i++)
        m->slots[i].key = UINT64_MAX;
    return SDC_OK;
}

void sdc_pairmap_free(sdc_pairmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static size_t pair_slot(const sdc_pairmap *m, uint64_t key)
{
    size_t i = (size_t)hash_u64(key) & (m->cap - 1);
    while (m->slots[i].key != UINT64_MAX && m->slots[i].key != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static uint64_t pair_key(int32_t left, int32_t right)
{
    return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

sdc_status sdc_pairmap_put(sdc_pairmap *m, int32_t left, int32_t right, int32_t rank,
                           int32_t merged)
{
    uint64_t key = pair_key(left, right);
    size_t i = pair_slot(m, key);
    if (m->slots[i].key == UINT64_MAX) {
        if (2 * (m->count + 1) > m->cap)
            return sdc_fail(SDC_ERR_FORMAT, "vocabulary holds more merges than it declares");
        m->count++;
    }
    m->slots[i] = (sdc_pair_entry){key, rank, merged};
    return SDC_OK;
}

const sdc_pair_entry *sdc_pairmap_get(const sdc_pairmap *m, int32_t left, int32_t right)
{
    const sdc_pair_entry *e = &m->slots[pair_slot(m, pair_key(left, right))];
    return e->key == UINT64_MAX ? NULL : e;
}
