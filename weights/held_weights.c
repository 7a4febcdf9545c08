/* Weights the model made at load (--conv-type's quantised kernels) moved out of the heap into
 * a file the checkpoint maps, so that they leave the resident set with their component
 * (sdc_checkpoint_release) exactly as the mapped checkpoint's pages do: clean page-cache
 * pages of an unlinked file in $TMPDIR (else /var/tmp), which the kernel may also reclaim
 * under pressure and read back on the next touch. Without this the UNet's kernels would stay
 * resident through the VAE decode, whose activations are the largest of a run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ops/error.h"
#include "ops/log.h"
#include "weights/checkpoint_impl.h"

enum { ALIGN = 64 };

static size_t weight_bytes(const sdc_weight *w)
{
    return (size_t)w->rows * (size_t)(w->cols / w->quant->block) * (size_t)w->quant->block_bytes;
}

static size_t round_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* An unlinked temporary file: its pages live as long as a descriptor or mapping does. */
static int temp_file(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/sdc-held-XXXXXX", dir && *dir ? dir : "/var/tmp");
    int fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static int write_all(int fd, const void *data, size_t n, off_t at)
{
    const unsigned char *p = data;
    while (n) {
        ssize_t k = pwrite(fd, p, n, at);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
        at += k;
    }
    return 0;
}

/* The weights' blocks, one after another, into a new mapping of `total` bytes; NULL when the
 * file cannot be made or written (the caller keeps the heap copies). */
static void *map_copies(sdc_weight *const *w, size_t n, size_t total)
{
    int fd = temp_file();
    if (fd < 0)
        return NULL;
    int bad = ftruncate(fd, (off_t)total) != 0;
    size_t at = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        bad = write_all(fd, w[i]->data, weight_bytes(w[i]), (off_t)at) != 0;
        at += round_up(weight_bytes(w[i]));
    }
    void *map = bad ? MAP_FAILED : mmap(NULL, total, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    return map == MAP_FAILED ? NULL : map;
}

sdc_status sdc_checkpoint_keep_weights(sdc_checkpoint *ck, sdc_component component,
                                       sdc_weight *const *w, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += round_up(weight_bytes(w[i]));
    if (!total || (unsigned)component >= SDC_COMPONENT_COUNT || ck->held[component].map)
        return SDC_OK;
    unsigned char *map = map_copies(w, n, total);
    if (!map) {
        sdc_log(SDC_LOG_WARNING, "%s: cannot write the weights quantised at load to a temporary "
                "file (%s); they stay in memory through every stage", ck->path, strerror(errno));
        return SDC_OK;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t bytes = weight_bytes(w[i]);
        free(w[i]->owned);
        w[i]->owned = NULL;
        w[i]->data = map + at;
        at += round_up(bytes);
    }
    ck->held[component] = (sdc_ck_held){.map = map, .size = total};
    return SDC_OK;
}

size_t sdc_ck_release_held(const sdc_checkpoint *ck, sdc_component component)
{
    const sdc_ck_held *h = &ck->held[component];
    return h->map && madvise(h->map, h->size, MADV_DONTNEED) == 0 ? h->size : 0;
}

void sdc_ck_unmap_held(sdc_checkpoint *ck)
{
    for (int c = 0; c < SDC_COMPONENT_COUNT; c++)
        if (ck->held[c].map)
            munmap(ck->held[c].map, ck->held[c].size);
}
