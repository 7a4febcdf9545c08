#include "ops/pages.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older headers lack it, older kernels say EINVAL */
#endif

#define HUGE_PAGE ((size_t)2 << 20)

size_t sdc_pages_size(void)
{
    long p = sysconf(_SC_PAGESIZE); /* read from the auxiliary vector: no system call */
    return p > 0 ? (size_t)p : 4096;
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

#ifdef MADV_HUGEPAGE
/* Maps one huge page more than needed and trims both ends, so the buffer starts on a huge
 * page boundary: only whole, aligned huge pages can be backed by one. */
static void *map_huge(size_t size)
{
    void *raw = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t lo = (uintptr_t)raw, start = round_up(lo, HUGE_PAGE);
    if (start > lo)
        munmap(raw, start - lo);
    munmap((void *)(start + size), HUGE_PAGE - (start - lo)); /* never 0: start - lo < 2 MiB */
    madvise((void *)start, size, MADV_HUGEPAGE); /* a hint: refused, the pages are 4 KiB */
    return (void *)start;
}

/* Freed huge-page buffers kept for the next buffers, whatever their sizes: a run takes and
 * drops arena blocks and scratch of many sizes (the text encoder's, every UNet step's, then
 * the decoder's), and on this kind of VM the first touch of a fresh huge page costs about
 * 1 ms per MiB (the host backs it then). A request is served from the kept memory first: the
 * smallest kept buffer that holds it is split, or, when none does, a new mapping is filled
 * with kept buffers moved into it by mremap (their pages move, already faulted in) and only
 * the rest is fresh. New memory is therefore mapped only once the kept memory is used up,
 * so keeping it never raises the resident peak above the largest amount ever in use at
 * once; sdc_pages_trim() gives it all back. */
enum { CACHE_SLOTS = 64 };

static struct {
    pthread_mutex_t lock;
    unsigned char *p[CACHE_SLOTS];
    size_t size[CACHE_SLOTS]; /* 0: a free slot */
    size_t bytes;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Index of the smallest kept buffer of at least `size` bytes (any size when `size` is 0:
 * the largest then), or -1. Called with the lock held. */
static int cache_find(size_t size)
{
    int best = -1;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (!cache.size[i])
            continue;
        if (size ? cache.size[i] >= size && (best < 0 || cache.size[i] < cache.size[best])
                 : best < 0 || cache.size[i] > cache.size[best])
            best = i;
    }
    return best;
}

/* Drops the first `size` bytes of slot i (all of it when it has no more). Lock held. */
static void cache_cut(int i, size_t size)
{
    cache.p[i] += size;
    cache.size[i] -= size;
    cache.bytes -= size;
}

#if defined(MREMAP_MAYMOVE) && defined(MREMAP_FIXED)
/* Moves kept buffers into [dst, dst + size), largest first, until it is full or nothing is
 * kept; returns the bytes moved. Lock held. */
static size_t cache_move_into(unsigned char *dst, size_t size)
{
    size_t done = 0;
    int i;
    while (done < size && (i = cache_find(0)) >= 0) {
        size_t n = cache.size[i] < size - done ? cache.size[i] : size - done;
        if (mremap(cache.p[i], n, n, MREMAP_MAYMOVE | MREMAP_FIXED, dst + done) == MAP_FAILED)
            break;
        cache_cut(i, n);
        done += n;
    }
    return done;
}
#else
static size_t cache_move_into(unsigned char *dst, size_t size) { return (void)dst, (void)size, 0; }
#endif

/* A buffer of `size` bytes (whole huge pages), as much of it already faulted in as the kept
 * memory allows; NULL when out of memory. */
static void *cache_take(size_t size)
{
    pthread_mutex_lock(&cache.lock);
    unsigned char *p = NULL;
    int i = cache_find(size);
    if (i >= 0) {
        p = cache.p[i];
        cache_cut(i, size);
    } else if ((p = map_huge(size)) && cache.bytes)
        cache_move_into(p, size);
    pthread_mutex_unlock(&cache.lock);
    return p;
}

/* Keeps p (size bytes) for reuse; returns 0 when there is no free slot (the caller unmaps
 * it). */
static int cache_keep(void *p, size_t size)
{
    pthread_mutex_lock(&cache.lock);
    int slot = -1;
    for (int i = 0; i < CACHE_SLOTS && slot < 0; i++)
        if (!cache.size[i])
            slot = i;
    if (slot >= 0) {
        cache.p[slot] = p;
        cache.size[slot] = size;
        cache.bytes += size;
    }
    pthread_mutex_unlock(&cache.lock);
    return slot >= 0;
}
#endif

void sdc_pages_trim(void)
{
#ifdef MADV_HUGEPAGE
    pthread_mutex_lock(&cache.lock);
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (cache.size[i]) {
            munmap(cache.p[i], cache.size[i]);
            cache.size[i] = 0;
        }
    cache.bytes = 0;
    pthread_mutex_unlock(&cache.lock);
#endif
}

size_t sdc_pages_kept(void)
{
#ifdef MADV_HUGEPAGE
    pthread_mutex_lock(&cache.lock);
    size_t n = cache.bytes;
    pthread_mutex_unlock(&cache.lock);
    return n;
#else
    return 0;
#endif
}

void *sdc_pages_alloc(size_t bytes)
{
    if (bytes > SIZE_MAX - 2 * HUGE_PAGE)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (bytes >= SDC_PAGES_HUGE_MIN)
        return cache_take(round_up(bytes, HUGE_PAGE));
#endif
    return aligned_alloc(64, round_up(bytes ? bytes : 1, 64));
}

void sdc_pages_free(void *p, size_t bytes)
{
    if (!p)
        return;
#ifdef MADV_HUGEPAGE
    if (bytes >= SDC_PAGES_HUGE_MIN) {
        size_t size = round_up(bytes, HUGE_PAGE);
        if (!cache_keep(p, size))
            munmap(p, size);
        return;
    }
#endif
    (void)bytes;
    free(p);
}

void sdc_pages_free_now(void *p, size_t bytes)
{
    if (!p)
        return;
#ifdef MADV_HUGEPAGE
    if (bytes >= SDC_PAGES_HUGE_MIN) {
        munmap(p, round_up(bytes, HUGE_PAGE));
        return;
    }
#endif
    (void)bytes;
    free(p);
}

void sdc_pages_advise_huge(const void *addr, size_t len)
{
#ifdef MADV_HUGEPAGE
    uintptr_t page = sdc_pages_size(), lo = (uintptr_t)addr / page * page;
    if (len)
        madvise((void *)lo, (uintptr_t)addr + len - lo, MADV_HUGEPAGE);
#else
    (void)addr, (void)len;
#endif
}

/* Without MADV_POPULATE_READ: one read per page does the same through ordinary faults. */
static void touch(uintptr_t lo, uintptr_t hi, size_t page)
{
    for (uintptr_t p = lo; p < hi; p += page)
        (void)*(const volatile unsigned char *)p;
}

size_t sdc_pages_populate(const void *addr, size_t len)
{
    if (!addr || !len)
        return 0;
    size_t page = sdc_pages_size();
    uintptr_t lo = (uintptr_t)addr / page * page, hi = round_up((uintptr_t)addr + len, page);
    int r = madvise((void *)lo, hi - lo, MADV_POPULATE_READ);
    if (r != 0 && (errno == EINVAL || errno == ENOSYS))
        touch(lo, hi, page);
    return hi - lo;
}
