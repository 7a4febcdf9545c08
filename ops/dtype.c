#include "ops/dtype.h"

#include <assert.h>

static const struct {
    const char *name;
    size_t size;
} dtype_table[SDC_DTYPE_COUNT] = {
    [SDC_DTYPE_F32] = {"F32", 4}, [SDC_DTYPE_F16] = {"F16", 2},
    [SDC_DTYPE_BF16] = {"BF16", 2}, [SDC_DTYPE_F64] = {"F64", 8},
    [SDC_DTYPE_I64] = {"I64", 8}, [SDC_DTYPE_I32] = {"I32", 4},
    [SDC_DTYPE_I16] = {"I16", 2}, [SDC_DTYPE_I8] = {"I8", 1},
    [SDC_DTYPE_U8] = {"U8", 1}, [SDC_DTYPE_BOOL] = {"BOOL", 1},
};

size_t sdc_dtype_size(sdc_dtype dtype)
{
    return (unsigned)dtype < SDC_DTYPE_COUNT ? dtype_table[dtype].size : 0;
}

const char *sdc_dtype_name(sdc_dtype dtype)
{
    return (unsigned)dtype < SDC_DTYPE_COUNT ? dtype_table[dtype].name : "?";
}

int sdc_dtype_from_name(const char *name)
{
    for (int i = 0; i < SDC_DTYPE_COUNT; i++)
        if (strcmp(name, dtype_table[i].name) == 0)
            return i;
    return -1;
}

int sdc_dtype_is_weight(sdc_dtype dtype)
{
    return dtype == SDC_DTYPE_F32 || dtype == SDC_DTYPE_F16 || dtype == SDC_DTYPE_BF16;
}

void sdc_convert_to_f32(float *dst, const void *src, sdc_dtype dtype, size_t n)
{
    switch (dtype) {
    case SDC_DTYPE_F32:
        memcpy(dst, src, n * sizeof(float));
        break;
    case SDC_DTYPE_F16: {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = sdc_f16_to_f32(s[i]);
        break;
    }
    case SDC_DTYPE_BF16: {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = sdc_bf16_to_f32(s[i]);
        break;
    }
    case SDC_DTYPE_F64: {
        const double *s = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)s[i];
        break;
    }
    default:
        assert(!"sdc_convert_to_f32: not a float dtype");
    }
}
