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

/* Freed huge-page buffers kept for the next buffer of the same size: a forward pass takes
 * and drops arena blocks and scratch of a few sizes again and again (glibc's heap kept such
 * memory too, before these buffers were mapped directly), and a new mapping costs its first
 * touch again. The cache is small and bounded, so the resident set grows by at most
 * CACHE_BYTES; buffers over CACHE_ONE are always unmapped. */
enum { CACHE_SLOTS = 8 };
#define CACHE_BYTES ((size_t)64 << 20)
#define CACHE_ONE ((size_t)48 << 20)

static struct {
    pthread_mutex_t lock;
    void *p[CACHE_SLOTS];
    size_t size[CACHE_SLOTS]; /* 0: a free slot */
    unsigned long age[CACHE_SLOTS], clock;
    size_t bytes;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* A cached buffer of exactly `size` bytes (sizes are whole huge pages), or NULL. */
static void *cache_take(size_t size)
{
    void *p = NULL;
    pthread_mutex_lock(&cache.lock);
    for (int i = 0; i < CACHE_SLOTS && !p; i++)
        if (cache.size[i] == size) {
            p = cache.p[i];
            cache.size[i] = 0;
            cache.bytes -= size;
        }
    pthread_mutex_unlock(&cache.lock);
    return p;
}

/* Keeps p (size bytes) for reuse when it fits, unmapping the oldest buffers to make room;
 * returns 0 when the caller must unmap it. */
static int cache_keep(void *p, size_t size)
{
    if (size > CACHE_ONE)
        return 0;
    pthread_mutex_lock(&cache.lock);
    int slot = -1;
    for (;;) {
        int oldest = -1;
        for (int i = 0; i < CACHE_SLOTS; i++) {
            if (!cache.size[i] && slot < 0)
                slot = i;
            if (cache.size[i] && (oldest < 0 || cache.age[i] < cache.age[oldest]))
                oldest = i;
        }
        if (slot >= 0 && cache.bytes + size <= CACHE_BYTES)
            break;
        munmap(cache.p[oldest], cache.size[oldest]); /* oldest >= 0: the cache is not empty */
        cache.bytes -= cache.size[oldest];
        cache.size[oldest] = 0;
        slot = -1;
    }
    cache.p[slot] = p;
    cache.size[slot] = size;
    cache.age[slot] = ++cache.clock;
    cache.bytes += size;
    pthread_mutex_unlock(&cache.lock);
    return 1;
}
#endif

void *sdc_pages_alloc(size_t bytes)
{
    if (bytes > SIZE_MAX - 2 * HUGE_PAGE)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (bytes >= SDC_PAGES_HUGE_MIN) {
        size_t size = round_up(bytes, HUGE_PAGE);
        void *p = cache_take(size);
        return p ? p : map_huge(size);
    }
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
