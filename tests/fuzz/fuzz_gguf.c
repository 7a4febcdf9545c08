/* GGUF container and the checkpoint built on it: every tensor of an accepted file is expanded
 * (each block layout read to its end), then the file is opened as a checkpoint and every
 * component tensor loaded and touched. */
#include <stdlib.h>

#include "tests/fuzz/fuzz.h"
#include "weights/checkpoint.h"
#include "weights/gguf.h"

static unsigned expand_all(const sdc_gguf *g)
{
    unsigned sink = 0;
    for (size_t i = 0; i < sdc_gguf_count(g); i++) {
        const sdc_gguf_tensor *t = sdc_gguf_tensor_at(g, i);
        float *f = malloc((size_t)t->numel * sizeof *f + 1); /* bounded by the file's size */
        if (!f)
            continue;
        sdc_gguf_expand(t, f);
        sink += t->numel ? (f[0] == f[0]) + (f[t->numel - 1] == f[t->numel - 1]) : 0;
        free(f);
    }
    return sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    volatile unsigned sink = 0;
    sdc_gguf *g;
    if (sdc_gguf_open(path, &g) == SDC_OK) {
        sink += expand_all(g);
        for (size_t i = 0; i < sdc_gguf_kv_count(g); i++)
            sink += (unsigned)sdc_gguf_kv_at(g, i)->value[0];
        sdc_gguf_close(g);
    }
    sdc_checkpoint *ck;
    if (sdc_checkpoint_open(path, &ck) == SDC_OK) {
        for (int c = 0; c < SDC_COMPONENT_COUNT; c++)
            for (size_t i = 0; i < sdc_checkpoint_count(ck, (sdc_component)c); i++) {
                const sdc_tensor *t;
                sdc_checkpoint_name_at(ck, (sdc_component)c, i, &t);
                size_t nbytes = (size_t)sdc_tensor_numel(t) * sdc_dtype_size(t->dtype);
                if (nbytes && sdc_checkpoint_load(ck, t) == SDC_OK)
                    sink += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[nbytes - 1];
            }
        sdc_checkpoint_close(ck);
    }
    (void)sink;
    return 0;
}
