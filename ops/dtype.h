/* Element types of checkpoint tensors and conversions to f32. */
#ifndef SDC_OPS_DTYPE_H
#define SDC_OPS_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum sdc_dtype {
    SDC_DTYPE_F32,
    SDC_DTYPE_F16,
    SDC_DTYPE_BF16,
    SDC_DTYPE_F64,
    SDC_DTYPE_I64,
    SDC_DTYPE_I32,
    SDC_DTYPE_I16,
    SDC_DTYPE_I8,
    SDC_DTYPE_U8,
    SDC_DTYPE_BOOL,
    SDC_DTYPE_COUNT
} sdc_dtype;

/* Bytes per element. */
size_t sdc_dtype_size(sdc_dtype dtype);
/* safetensors spelling ("F32", "BF16", ...). */
const char *sdc_dtype_name(sdc_dtype dtype);
/* Parses a safetensors dtype string; returns -1 when unknown. */
int sdc_dtype_from_name(const char *name);
/* True for the float types model weights may use (F32, F16, BF16). */
int sdc_dtype_is_weight(sdc_dtype dtype);

static inline float sdc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Round-to-nearest-even f32 -> f16. */
static inline uint16_t sdc_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00);
    if (ax < 0x38800000u) { /* result is subnormal or zero */
        float a;
        memcpy(&a, &ax, 4);
        /* 2^-24 is the f16 subnormal step; adding 0.5 (2^-1) forces rounding at that step */
        float r = a + 0.5f;
        uint32_t rb;
        memcpy(&rb, &r, 4);
        return (uint16_t)(sign | (rb - 0x3f000000u));
    }
    uint32_t mant_odd = (ax >> 13) & 1;
    ax += 0xc8000fffu + mant_odd; /* rebias exponent (-112 << 23) and round */
    return (uint16_t)(sign | (ax >> 13));
}

static inline float sdc_bf16_to_f32(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Round-to-nearest-even f32 -> bf16 (NaN stays NaN). */
static inline uint16_t sdc_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* Converts n elements of a float dtype (F32/F16/BF16/F64) to f32. */
void sdc_convert_to_f32(float *dst, const void *src, sdc_dtype dtype, size_t n);

#endif
