#include "ops/weight.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "ops/error.h"
#include "ops/pack_cache.h"
#include "ops/parallel.h"
#include "ops/quantize.h"

static sdc_status check_float(const sdc_tensor *t, const char *name)
{
    if (!t)
        return sdc_fail(SDC_ERR_FORMAT, "tensor '%s' is missing", name);
    if (!sdc_dtype_is_weight(t->dtype))
        return sdc_fail(SDC_ERR_UNSUPPORTED, "tensor '%s' has dtype %s (need F32, F16 or BF16)",
                        name, sdc_dtype_name(t->dtype));
    return SDC_OK;
}

sdc_status sdc_weight_load_rows(sdc_weight *w, const sdc_tensor *t, int row0, int rows, int cols,
                                const char *name)
{
    *w = (sdc_weight){0};
    sdc_status s = check_float(t, name);
    if (s != SDC_OK)
        return s;
    int64_t total = sdc_tensor_numel(t);
    if (rows <= 0 || cols <= 0 || row0 < 0 || total % cols != 0 ||
        (int64_t)(row0 + rows) * cols > total)
        return sdc_fail(SDC_ERR_FORMAT, "tensor '%s' has %lld elements, expected rows %d..%d of %d",
                        name, (long long)total, row0, row0 + rows, cols);
    if (sdc_tensor_blocked(t) && t->shape[1] == cols) {
        w->quant = t->quant;
        w->data = (const unsigned char *)t->blocks +
                  (size_t)row0 * (size_t)(cols / t->quant->block) * (size_t)t->quant->block_bytes;
    } else {
        w->data = (const unsigned char *)t->data + (size_t)row0 * cols * sdc_dtype_size(t->dtype);
    }
    w->dtype = t->dtype;
    w->rows = rows;
    w->cols = cols;
    return SDC_OK;
}

sdc_status sdc_weight_load(sdc_weight *w, const sdc_tensor *t, int rows, int cols,
                           const char *name)
{
    sdc_status s = check_float(t, name);
    if (s != SDC_OK)
        return s;
    if (sdc_tensor_numel(t) != (int64_t)rows * cols)
        return sdc_fail(SDC_ERR_FORMAT, "tensor '%s' has %lld elements, expected %d x %d", name,
                        (long long)sdc_tensor_numel(t), rows, cols);
    return sdc_weight_load_rows(w, t, 0, rows, cols, name);
}

sdc_status sdc_weight_own_f32(sdc_weight *w, const sdc_weight *src)
{
    size_t n = (size_t)src->rows * src->cols;
    float *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory copying a %d x %d weight", src->rows,
                        src->cols);
    for (int r = 0; r < src->rows; r++)
        sdc_weight_row_f32(src, r, copy + (size_t)r * src->cols);
    *w = (sdc_weight){.rows = src->rows, .cols = src->cols, .dtype = SDC_DTYPE_F32,
                      .data = copy, .owned = copy};
    return SDC_OK;
}

sdc_status sdc_weight_transpose_f32(sdc_weight *w, const sdc_weight *src)
{
    sdc_weight plain;
    sdc_status s = sdc_weight_own_f32(&plain, src);
    if (s != SDC_OK)
        return s;
    s = sdc_weight_own_f32(w, &plain); /* a buffer of the same size to transpose into */
    if (s == SDC_OK) {
        const float *a = plain.data;
        float *t = w->owned;
        for (int r = 0; r < src->rows; r++)
            for (int c = 0; c < src->cols; c++)
                t[(size_t)c * src->rows + r] = a[(size_t)r * src->cols + c];
        w->rows = src->cols;
        w->cols = src->rows;
    }
    sdc_weight_free(&plain);
    return s;
}

void sdc_weight_row_f32(const sdc_weight *w, int r, float *dst)
{
    if (w->quant) {
        size_t blocks = (size_t)(w->cols / w->quant->block);
        w->quant->expand((const unsigned char *)w->data + (size_t)r * blocks * w->quant->block_bytes,
                         dst, blocks);
        return;
    }
    size_t cols = (size_t)w->cols;
    sdc_convert_to_f32(dst, (const unsigned char *)w->data + r * cols * sdc_dtype_size(w->dtype),
                       w->dtype, cols);
}

static size_t row_bytes(const sdc_qtype_info *q, int cols)
{
    return (size_t)(cols / q->block) * (size_t)q->block_bytes;
}

/* blocks[r] = the rows of w quantised to type `id`, rows shared among the threads, each
 * expanding its row into its own part of `rows` [threads][cols]. */
static void quantize_rows(const sdc_weight *w, uint32_t id, size_t bytes_per_row,
                          uint8_t *blocks, float *rows)
{
#pragma omp parallel for schedule(dynamic, 8) if (sdc_parallel_worth((size_t)w->rows * w->cols))
    for (int r = 0; r < w->rows; r++) {
        float *row = rows + (size_t)omp_get_thread_num() * (size_t)w->cols;
        sdc_weight_row_f32(w, r, row);
        sdc_quantize_row_ref(id, row, (size_t)w->cols, blocks + bytes_per_row * (size_t)r);
    }
}

/* The checks of sdc_weight_quantize_to; the type in *q. */
static sdc_status quantize_check(const sdc_weight *w, uint32_t id, const sdc_qtype_info **q)
{
    *q = sdc_qtype_get(id);
    if (!*q || !sdc_quantize_supported(id))
        return sdc_fail(SDC_ERR_UNSUPPORTED, "sdc cannot quantise weights to ggml type %s",
                        sdc_qtype_name(id));
    if (w->cols <= 0 || w->cols % (*q)->block)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "a %d x %d weight has rows that are not whole "
                        "%s blocks of %d", w->rows, w->cols, (*q)->name, (*q)->block);
    return SDC_OK;
}

size_t sdc_weight_quantized_bytes(const sdc_weight *w, uint32_t id)
{
    const sdc_qtype_info *q = sdc_qtype_get(id);
    return q && w->cols > 0 ? row_bytes(q, w->cols) * (size_t)w->rows : 0;
}

sdc_status sdc_weight_quantize_to(sdc_weight *w, uint32_t id, void *dst)
{
    const sdc_qtype_info *q;
    sdc_status s = quantize_check(w, id, &q);
    if (s != SDC_OK)
        return s;
    size_t threads = (size_t)omp_get_max_threads();
    float *rows = malloc(sizeof(float) * (size_t)w->cols * threads);
    if (!rows)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory quantising a %d x %d weight to %s",
                        w->rows, w->cols, q->name);
    quantize_rows(w, id, row_bytes(q, w->cols), dst, rows);
    free(rows);
    int r = w->rows, c = w->cols;
    sdc_weight_free(w);
    *w = (sdc_weight){.rows = r, .cols = c, .dtype = SDC_DTYPE_F32, .data = dst, .quant = q};
    return SDC_OK;
}

sdc_status sdc_weight_quantize(sdc_weight *w, uint32_t id)
{
    const sdc_qtype_info *q;
    sdc_status s = quantize_check(w, id, &q);
    if (s != SDC_OK || w->quant == q)
        return s;
    size_t bytes = sdc_weight_quantized_bytes(w, id);
    void *blocks = malloc(bytes ? bytes : 1);
    if (!blocks)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory quantising a %d x %d weight to %s",
                        w->rows, w->cols, q->name);
    s = sdc_weight_quantize_to(w, id, blocks);
    if (s != SDC_OK)
        free(blocks);
    else
        w->owned = blocks;
    return s;
}

static size_t int8_bytes; /* guarded by the atomics below: models may load on several threads */

size_t sdc_weight_int8_bytes(void)
{
    return __atomic_load_n(&int8_bytes, __ATOMIC_RELAXED);
}

sdc_status sdc_weight_to_q8_0(sdc_weight *w)
{
    if (w->quant == sdc_qtype_get(SDC_QTYPE_Q8_0))
        return SDC_OK;
    if (w->cols % 32 || w->cols <= 0)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "a %d x %d weight has rows that are not whole "
                        "q8_0 blocks of 32", w->rows, w->cols);
    sdc_status s = sdc_weight_quantize(w, SDC_QTYPE_Q8_0);
    if (s == SDC_OK) {
        w->int8_counted = 1;
        __atomic_add_fetch(&int8_bytes, row_bytes(w->quant, w->cols) * (size_t)w->rows,
                           __ATOMIC_RELAXED);
    }
    return s;
}

size_t sdc_weight_bytes(const sdc_weight *w)
{
    if (w->quant)
        return (size_t)w->rows * (size_t)(w->cols / w->quant->block) * (size_t)w->quant->block_bytes;
    return (size_t)w->rows * (size_t)w->cols * sdc_dtype_size(w->dtype);
}

void sdc_weight_free(sdc_weight *w)
{
    sdc_weight_pack_drop(w);
    if (w->owned && w->int8_counted)
        __atomic_sub_fetch(&int8_bytes, (size_t)w->rows * row_bytes(w->quant, w->cols),
                           __ATOMIC_RELAXED);
    free(w->owned);
    w->owned = NULL;
    w->data = NULL;
    w->quant = NULL;
    w->int8_counted = 0;
}

sdc_status sdc_vector_load(float **out, const sdc_tensor *t, int n, const char *name)
{
    *out = NULL;
    sdc_status s = check_float(t, name);
    if (s != SDC_OK)
        return s;
    if (sdc_tensor_numel(t) != n)
        return sdc_fail(SDC_ERR_FORMAT, "tensor '%s' has %lld elements, expected %d", name,
                        (long long)sdc_tensor_numel(t), n);
    *out = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!*out)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory loading '%s'", name);
    sdc_convert_to_f32(*out, t->data, t->dtype, (size_t)n);
    return SDC_OK;
}
