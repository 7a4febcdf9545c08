/* Writes small safetensors files for tests that craft checkpoints. */
#ifndef SDC_TESTS_ST_WRITE_H
#define SDC_TESTS_ST_WRITE_H

#include <stddef.h>

#include "ops/tensor.h"

typedef struct st_item {
    const char *name;
    const sdc_tensor *tensor;
} st_item;

/* Writes the items (data copied from each tensor) to `path`; fails the test on error. */
void st_write(const char *path, const st_item *items, size_t count);

#endif
