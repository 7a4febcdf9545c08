/* `sdc batch --resume`: whether a finished PNG still shows what its job line asks for. The
 * AUTOMATIC1111 `parameters` text in the file is compared with the text the job would write
 * (prompt, negative prompt, steps, sampler, schedule, CFG scale, seed, size, model name and
 * hash, RNG, ...), so an image whose job changed is rendered again rather than kept. */
#ifndef SDC_CMD_BATCH_STALE_H
#define SDC_CMD_BATCH_STALE_H

#include <stddef.h>

#include "cmd/batch_jobs.h"

/* 0 when the PNG at `path` matches image `image` of `job` (or is not a PNG: JPEG and BMP
 * outputs carry no parameters), else 1 with the first difference in `why`
 * ("Seed: 101 -> 7"). */
int sdc_batch_stale(const sdc_batch_job *job, int image, const char *path, char *why,
                    size_t size);

#endif
