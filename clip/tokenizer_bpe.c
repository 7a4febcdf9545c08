#include "clip/tokenizer_bpe.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"

/* ---- merging ------------------------------------------------------------------------- */

/* One symbol of the word in a doubly linked list; merged-away symbols get sym = -1.
 * A merged symbol keeps the index of its left part, so index order is word order. */
typedef struct bpe_node {
    int32_t sym, prev, next;
} bpe_node;

/* A ranked adjacent pair as it was when pushed; re-checked when popped. */
typedef struct bpe_pair {
    int32_t rank, pos, left, right, merged;
} bpe_pair;

typedef struct bpe_heap {
    bpe_pair *items;
    size_t n, cap;
} bpe_heap;

static bool pair_less(const bpe_pair *a, const bpe_pair *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static sdc_status pairs_append(bpe_heap *list, bpe_pair p)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        bpe_pair *items = realloc(list->items, cap * sizeof *items);
        if (!items)
            return sdc_fail(SDC_ERR_NOMEM, "out of memory in BPE");
        list->items = items;
        list->cap = cap;
    }
    list->items[list->n++] = p;
    return SDC_OK;
}

static sdc_status heap_push(bpe_heap *h, bpe_pair p)
{
    sdc_status st = pairs_append(h, p);
    if (st)
        return st;
    size_t i = h->n - 1;
    while (i > 0 && pair_less(&p, &h->items[(i - 1) / 2])) {
        h->items[i] = h->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->items[i] = p;
    return SDC_OK;
}

static bpe_pair heap_pop(bpe_heap *h)
{
    bpe_pair top = h->items[0], last = h->items[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && pair_less(&h->items[c + 1], &h->items[c]))
            c++;
        if (!pair_less(&h->items[c], &last))
            break;
        h->items[i] = h->items[c];
        i = c;
    }
    if (h->n)
        h->items[i] = last;
    return top;
}

/* Pushes the pair starting at node pos when the vocabulary ranks it. */
static sdc_status push_pair(const sdc_vocab *v, const bpe_node *nodes, int32_t pos,
                            bpe_heap *h)
{
    if (pos < 0 || nodes[pos].next < 0)
        return SDC_OK;
    int32_t l = nodes[pos].sym, r = nodes[nodes[pos].next].sym;
    const sdc_pair_entry *e = sdc_pairmap_get(&v->merges, l, r);
    return e ? heap_push(h, (bpe_pair){e->rank, pos, l, r, e->merged}) : SDC_OK;
}

/* Merges the pair if it is still adjacent as pushed; pushes the pairs it creates. */
static sdc_status apply_pair(const sdc_vocab *v, bpe_node *nodes, const bpe_pair *p,
                             bpe_heap *h)
{
    bpe_node *a = &nodes[p->pos];
    if (a->sym != p->left || a->next < 0 || nodes[a->next].sym != p->right)
        return SDC_OK;
    bpe_node *b = &nodes[a->next];
    a->sym = p->merged;
    a->next = b->next;
    if (b->next >= 0)
        nodes[b->next].prev = p->pos;
    b->sym = -1;
    sdc_status st = push_pair(v, nodes, a->prev, h);
    return st ? st : push_pair(v, nodes, p->pos, h);
}

static int compare_pos(const void *x, const void *y)
{
    const bpe_pair *a = x, *b = y;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

/* Each round takes every pending pair of the lowest rank (one merge rule) and applies them
 * left to right, skipping those an earlier one consumed: Python's pass over the word. */
static sdc_status merge_all(const sdc_vocab *v, bpe_node *nodes, int32_t n, bpe_heap *h)
{
    bpe_heap round = {0};
    sdc_status st = SDC_OK;
    for (int32_t i = 0; i + 1 < n && !st; i++)
        st = push_pair(v, nodes, i, h);
    while (h->n && !st) {
        round.n = 0;
        int32_t rank = h->items[0].rank;
        while (h->n && h->items[0].rank == rank && !st)
            st = pairs_append(&round, heap_pop(h));
        if (st)
            break;
        qsort(round.items, round.n, sizeof *round.items, compare_pos);
        for (size_t k = 0; k < round.n && !st; k++)
            st = apply_pair(v, nodes, &round.items[k], h);
    }
    free(round.items);
    return st;
}

static sdc_status bpe_merge(const sdc_vocab *v, const char *word, size_t len, sdc_u32 *ids)
{
    if (len > (size_t)INT32_MAX / 4)
        return sdc_fail(SDC_ERR_ARG, "prompt: a word of %zu bytes is too long", len);
    int32_t n = (int32_t)len;
    bpe_node *nodes = malloc(len * sizeof *nodes);
    if (!nodes)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory in BPE");
    for (int32_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)word[i];
        nodes[i] = (bpe_node){i + 1 < n ? v->byte_id[b] : v->byte_end_id[b], i - 1,
                              i + 1 < n ? i + 1 : -1};
    }
    bpe_heap h = {0};
    sdc_status st = merge_all(v, nodes, n, &h);
    for (int32_t i = 0; i >= 0 && !st; i = nodes[i].next)
        st = sdc_u32_push(ids, nodes[i].sym);
    free(h.items);
    free(nodes);
    return st;
}

/* ---- cache --------------------------------------------------------------------------- */

/* Words longer than this are rare and cheap to redo relative to their size. */
#define CACHE_MAX_WORD 64
#define CACHE_SLOTS 8192 /* power of two; cleared when half full */

typedef struct cache_entry {
    char *word; /* NULL when empty; word bytes then ids in one allocation */
    size_t len, n_ids;
    int32_t *ids;
} cache_entry;

struct sdc_bpe_cache {
    pthread_mutex_t lock;
    cache_entry slots[CACHE_SLOTS];
    size_t count;
};

sdc_status sdc_bpe_cache_new(sdc_bpe_cache **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for the BPE cache");
    pthread_mutex_init(&(*out)->lock, NULL);
    return SDC_OK;
}

static void cache_clear(sdc_bpe_cache *c)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(c->slots[i].word);
        c->slots[i].word = NULL;
    }
    c->count = 0;
}

void sdc_bpe_cache_free(sdc_bpe_cache *cache)
{
    if (!cache)
        return;
    cache_clear(cache);
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

static size_t cache_slot(const sdc_bpe_cache *c, const char *word, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)word[i]) * 1099511628211ull;
    size_t i = (size_t)h & (CACHE_SLOTS - 1);
    while (c->slots[i].word &&
           (c->slots[i].len != len || memcmp(c->slots[i].word, word, len) != 0))
        i = (i + 1) & (CACHE_SLOTS - 1);
    return i;
}

/* Appends the cached ids of word to ids; false when not cached. */
static bool cache_get(sdc_bpe_cache *c, const char *word, size_t len, sdc_u32 *ids,
                      sdc_status *st)
{
    pthread_mutex_lock(&c->lock);
    const cache_entry *e = &c->slots[cache_slot(c, word, len)];
    bool hit = e->word != NULL;
    if (hit)
        *st = sdc_u32_append(ids, e->ids, e->n_ids);
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* Best effort: a failed allocation only means the word is not cached. */
static void cache_put(sdc_bpe_cache *c, const char *word, size_t len, const int32_t *ids,
                      size_t n)
{
    char *mem = malloc(len + n * sizeof *ids + sizeof(int32_t));
    if (!mem)
        return;
    int32_t *copy = (int32_t *)(mem + ((len + sizeof(int32_t) - 1) & ~(sizeof(int32_t) - 1)));
    memcpy(mem, word, len);
    memcpy(copy, ids, n * sizeof *ids);
    pthread_mutex_lock(&c->lock);
    if (2 * (c->count + 1) > CACHE_SLOTS)
        cache_clear(c);
    cache_entry *e = &c->slots[cache_slot(c, word, len)];
    if (e->word) {
        free(mem);
    } else {
        *e = (cache_entry){mem, len, n, copy};
        c->count++;
    }
    pthread_mutex_unlock(&c->lock);
}

sdc_status sdc_bpe_word(const sdc_vocab *v, sdc_bpe_cache *cache, const char *word,
                        size_t len, sdc_u32 *ids)
{
    bool cacheable = cache && len <= CACHE_MAX_WORD;
    sdc_status st = SDC_OK;
    if (cacheable && cache_get(cache, word, len, ids, &st))
        return st;
    size_t first = ids->n;
    st = bpe_merge(v, word, len, ids);
    if (!st && cacheable)
        cache_put(cache, word, len, ids->cp + first, ids->n - first);
    return st;
}
