/* The restricted pickle reader on raw bytes, then the walk to a state dict. */
#include "tests/fuzz/fuzz.h"
#include "weights/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdc_pickle *pk;
    if (sdc_pickle_load(data, size, "fuzz.pkl", &pk) != SDC_OK)
        return 0;
    const sdc_pk_value *v = sdc_pickle_root(pk);
    for (int depth = 0; depth < 4 && v && v->kind == SDC_PK_DICT; depth++) {
        volatile size_t tensors = 0;
        for (size_t i = 1; i < v->as.seq.count; i += 2)
            tensors += v->as.seq.items[i]->kind == SDC_PK_TENSOR;
        (void)tensors;
        v = sdc_pk_dict_get(v, "state_dict");
    }
    sdc_pickle_free(pk);
    return 0;
}
