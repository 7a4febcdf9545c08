/* safetensors header and tensor table, then the single-file layout built on it (names,
 * OpenCLIP q/k/v views, family detection). */
#include "tests/fuzz/fuzz.h"
#include "weights/checkpoint.h"
#include "weights/safetensors.h"

/* Touches the first and last byte of every tensor, so a view outside the file shows. */
static unsigned touch(const sdc_tensor *t, size_t nbytes)
{
    const uint8_t *p = t->data;
    return nbytes ? p[0] + p[nbytes - 1] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    volatile unsigned sink = 0;
    sdc_safetensors *st;
    if (sdc_safetensors_open(path, &st) == SDC_OK) {
        for (size_t i = 0; i < sdc_safetensors_count(st); i++) {
            const sdc_st_entry *e = sdc_safetensors_entry(st, i);
            sink += touch(&e->tensor, e->nbytes);
            sink += sdc_safetensors_find(st, e->name) == e;
        }
        sink += sdc_safetensors_metadata(st, "modelspec.prediction_type") != NULL;
        sdc_safetensors_close(st);
    }
    sdc_checkpoint *ck;
    if (sdc_checkpoint_open(path, &ck) == SDC_OK) {
        for (int c = 0; c < SDC_COMPONENT_COUNT; c++)
            for (size_t i = 0; i < sdc_checkpoint_count(ck, (sdc_component)c); i++) {
                const sdc_tensor *t;
                sdc_checkpoint_name_at(ck, (sdc_component)c, i, &t);
                sink += touch(t, (size_t)sdc_tensor_numel(t) * sdc_dtype_size(t->dtype));
            }
        sdc_checkpoint_close(ck);
    }
    (void)sink;
    return 0;
}
