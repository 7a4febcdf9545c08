/* Whole .ckpt files: libzip over the mapping, stored-member location, inflation bounds,
 * data.pkl, storages, the tensor table and lazy inflation. */
#include "tests/fuzz/fuzz.h"
#include "weights/ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    sdc_safetensors *st;
    if (sdc_ckpt_open(path, &st) != SDC_OK)
        return 0;
    volatile unsigned sink = 0;
    for (size_t i = 0; i < sdc_safetensors_count(st); i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(st, i);
        const uint8_t *p = e->tensor.data;
        /* compressed storages are inflated on first use: this is that use */
        if (sdc_safetensors_load(st, p, e->nbytes) == SDC_OK)
            sink += e->nbytes ? p[0] + p[e->nbytes - 1] : 0;
    }
    (void)sink;
    sdc_safetensors_close(st);
    return 0;
}
