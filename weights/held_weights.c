/* Weights the model makes at load (--conv-type's quantised kernels), written straight into a
 * file the checkpoint maps instead of the heap, so that they leave the resident set with
 * their component (sdc_checkpoint_release) exactly as the mapped checkpoint's pages do:
 * page-cache pages of an unlinked file in $TMPDIR (else /var/tmp), which the kernel may also
 * write back, reclaim under pressure and read back on the next touch. Without this the UNet's kernels would stay
 * resident through the VAE decode, whose activations are the largest of a run. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ops/error.h"
#include "ops/log.h"
#include "weights/checkpoint_impl.h"

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

/* Reserves the file's blocks, so that writing through the mapping cannot fail for want of
 * disk space (a SIGBUS) once the mapping is handed out. */
static int allocate(int fd, size_t size)
{
    int e = posix_fallocate(fd, 0, (off_t)size);
    return e == EINTR ? allocate(fd, size) : e;
}

void *sdc_checkpoint_held_area(sdc_checkpoint *ck, sdc_component component, size_t size)
{
    if (!size || (unsigned)component >= SDC_COMPONENT_COUNT || ck->held[component].map)
        return NULL;
    int fd = temp_file(), e = fd < 0 ? errno : allocate(fd, size);
    void *map = e ? MAP_FAILED
                  : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED && !e)
        e = errno;
    if (fd >= 0)
        close(fd);
    if (map == MAP_FAILED) {
        sdc_log(SDC_LOG_WARNING, "%s: no temporary file for the weights made at load (%s); "
                "they stay in memory through every stage", ck->path, strerror(e));
        return NULL;
    }
    ck->held[component] = (sdc_ck_held){.map = map, .size = size};
    return map;
}

void sdc_checkpoint_seal_held(sdc_checkpoint *ck, sdc_component component)
{
    sdc_ck_held *h = &ck->held[component];
    if (!h->map)
        return;
    mprotect(h->map, h->size, PROT_READ); /* read-only from here, as the file's pages */
    /* Written, they are resident: out until their stage reads them (the VAE's are not read
     * while the UNet samples). The page cache keeps the data. */
    madvise(h->map, h->size, MADV_DONTNEED);
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
