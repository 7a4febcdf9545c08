#include "ops/arena.h"

#include <stdlib.h>

#include "ops/pages.h"

struct sdc_arena_block {
    sdc_arena_block *next;
    size_t size;
    size_t used;
    size_t base; /* used_total of the arena when this block was started */
    unsigned char *data;
};

#define ARENA_ALIGN 64
#define ARENA_MIN_BLOCK (16u << 20)

void sdc_arena_init(sdc_arena *a)
{
    a->blocks = NULL;
    a->used_total = 0;
    a->peak = 0;
    a->spare = NULL;
}

static void free_blocks(sdc_arena_block *b)
{
    while (b) {
        sdc_arena_block *next = b->next;
        sdc_pages_free(b->data, b->size);
        free(b);
        b = next;
    }
}

void sdc_arena_free(sdc_arena *a)
{
    free_blocks(a->blocks);
    free_blocks(a->spare);
    sdc_arena_init(a);
}

static sdc_arena_block *new_block(size_t size)
{
    sdc_arena_block *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    /* in huge pages: a first pass faults its activations in once per 2 MiB (ops/pages.h) */
    b->data = sdc_pages_alloc(size);
    if (!b->data) {
        free(b);
        return NULL;
    }
    b->size = size;
    return b;
}

/* A block of at least `size` bytes: the spare when it fits (and is not much larger, so a
 * small allocation does not pin a big block), else a new one after freeing the spare. */
static sdc_arena_block *take_block(sdc_arena *a, size_t size)
{
    sdc_arena_block *b = a->spare;
    a->spare = NULL;
    if (b && b->size >= size && b->size / 2 <= size) {
        b->used = 0;
        return b;
    }
    free_blocks(b);
    return new_block(size);
}

float *sdc_arena_floats(sdc_arena *a, size_t count)
{
    if (count > ((size_t)-1 - ARENA_ALIGN) / sizeof(float))
        return NULL;
    size_t bytes = (count * sizeof(float) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (!bytes)
        bytes = ARENA_ALIGN;
    sdc_arena_block *b = a->blocks;
    if (!b || b->size - b->used < bytes) {
        size_t size = bytes > ARENA_MIN_BLOCK ? bytes : ARENA_MIN_BLOCK;
        sdc_arena_block *nb = take_block(a, size);
        if (!nb)
            return NULL;
        nb->next = b;
        nb->base = a->used_total;
        a->blocks = b = nb;
    }
    float *p = (float *)(b->data + b->used);
    b->used += bytes;
    a->used_total += bytes;
    if (a->used_total > a->peak)
        a->peak = a->used_total;
    return p;
}

size_t sdc_arena_mark(const sdc_arena *a) { return a->used_total; }

void sdc_arena_release(sdc_arena *a, size_t mark)
{
    /* Drop whole blocks started after the mark, then rewind the block holding it. The
     * largest dropped block becomes the spare, the others are freed: the next reset
     * consolidates to the peak size anyway. */
    while (a->blocks && a->blocks->base > mark) {
        sdc_arena_block *b = a->blocks;
        a->blocks = b->next;
        b->next = NULL;
        if (a->spare && a->spare->size < b->size) {
            sdc_arena_block *t = a->spare;
            a->spare = b;
            b = t;
        }
        if (a->spare)
            free_blocks(b);
        else
            a->spare = b;
    }
    if (a->blocks && mark >= a->blocks->base)
        a->blocks->used = mark - a->blocks->base;
    a->used_total = mark;
}

void sdc_arena_reset(sdc_arena *a)
{
    free_blocks(a->spare);
    a->spare = NULL;
    if (a->blocks && (a->blocks->next || a->blocks->size < a->peak)) {
        size_t peak = a->peak;
        free_blocks(a->blocks);
        a->blocks = new_block(peak > ARENA_MIN_BLOCK ? peak : ARENA_MIN_BLOCK);
        a->peak = peak;
    }
    if (a->blocks) {
        a->blocks->used = 0;
        a->blocks->base = 0;
    }
    a->used_total = 0;
}
