#include "tests/st_write.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t tensor_bytes(const sdc_tensor *t)
{
    return (size_t)sdc_tensor_numel(t) * sdc_dtype_size(t->dtype);
}

void st_write(const char *path, const st_item *items, size_t count)
{
    json_t *header = json_object();
    size_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        const sdc_tensor *t = items[i].tensor;
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        size_t n = tensor_bytes(t);
        json_object_set_new(header, items[i].name,
                            json_pack("{s:s, s:o, s:[I, I]}", "dtype", sdc_dtype_name(t->dtype),
                                      "shape", shape, "data_offsets", (json_int_t)offset,
                                      (json_int_t)(offset + n)));
        offset += n;
    }
    char *text = json_dumps(header, JSON_COMPACT);
    cr_assert(text);
    size_t len = strlen(text), padded = (len + 7) & ~(size_t)7;
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(lenbuf, 1, 8, f);
    fwrite(text, 1, len, f);
    for (size_t i = len; i < padded; i++)
        fputc(' ', f);
    for (size_t i = 0; i < count; i++)
        fwrite(items[i].tensor->data, 1, tensor_bytes(items[i].tensor), f);
    cr_assert_eq(fclose(f), 0);
    free(text);
    json_decref(header);
}
