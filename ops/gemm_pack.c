/* Portable operand copies for the packed GEMM (see gemm_driver.h). The hot cases get faster
 * versions in the ISA-specific files; these stay the reference for every kind and dtype. */
#include <string.h>

#include "ops/gemm_driver.h"

/* Element idx of a weight dtype. memcpy because mapped tensors need not be aligned. */
static inline float element(const void *data, sdc_dtype dtype, size_t idx)
{
    const char *p = data;
    uint16_t h;
    float f;
    switch (dtype) {
    case SDC_DTYPE_F16:
        memcpy(&h, p + 2 * idx, 2);
        return sdc_f16_to_f32(h);
    case SDC_DTYPE_BF16:
        memcpy(&h, p + 2 * idx, 2);
        return sdc_bf16_to_f32(h);
    default:
        memcpy(&f, p + 4 * idx, 4);
        return f;
    }
}

static const void *batch_base(const sdc_operand *op, size_t batch)
{
    return (const char *)op->data + batch * op->batch_stride * sdc_dtype_size(op->dtype);
}

/* Index of element (i, k) of a strided operand. */
static inline size_t index_of(const sdc_operand *op, size_t i, size_t k)
{
    return op->kind == SDC_OPERAND_ROWS ? i * op->ld + k : k * op->ld + i;
}

/* One output row segment of an im2col column: pixels ox0 .. ox0 + run of output row oy,
 * for kernel offset (ky, kx) of channel image xc [H, W]. */
static void im2col_run(float *d, size_t dst_i, const float *xc, const sdc_operand *op, int oy,
                       int ox0, int run, int ky, int kx)
{
    int iy = oy * op->stride - op->pad + ky;
    if (iy < 0 || iy >= op->H) {
        for (int t = 0; t < run; t++)
            d[t * dst_i] = 0.0f;
        return;
    }
    const float *row = xc + (size_t)iy * op->W;
    for (int t = 0; t < run; t++) {
        int ix = (ox0 + t) * op->stride - op->pad + kx;
        d[t * dst_i] = ix >= 0 && ix < op->W ? row[ix] : 0.0f;
    }
}

static void copy_im2col(const sdc_operand *op, const float *x, int i0, int n, int k0, int kc,
                        float *dst, size_t dst_i, size_t dst_k)
{
    int kk = op->k * op->k;
    for (int k = 0; k < kc; k++) {
        int c = (k0 + k) / kk, ky = (k0 + k) % kk / op->k, kx = (k0 + k) % op->k;
        const float *xc = x + (size_t)c * op->H * op->W;
        float *d = dst + k * dst_k;
        int oy = i0 / op->Wo, ox = i0 % op->Wo;
        for (int r = 0; r < n;) {
            int run = n - r < op->Wo - ox ? n - r : op->Wo - ox;
            im2col_run(d + r * dst_i, dst_i, xc, op, oy, ox, run, ky, kx);
            r += run;
            ox = 0;
            oy++;
        }
    }
}

void sdc_copy_generic(const sdc_operand *op, size_t batch, int i0, int n, int k0, int kc,
                      float *dst, size_t dst_i, size_t dst_k)
{
    const void *base = batch_base(op, batch);
    if (op->kind == SDC_OPERAND_IM2COL) {
        copy_im2col(op, base, i0, n, k0, kc, dst, dst_i, dst_k);
        return;
    }
    if (op->kind == SDC_OPERAND_ROWS && op->dtype == SDC_DTYPE_F32 && dst_k == 1) {
        for (int r = 0; r < n; r++)
            memcpy(dst + r * dst_i,
                   (const char *)base + ((size_t)(i0 + r) * op->ld + k0) * sizeof(float),
                   sizeof(float) * kc);
        return;
    }
    if (op->kind == SDC_OPERAND_COLS && op->dtype == SDC_DTYPE_F32 && dst_i == 1) {
        for (int k = 0; k < kc; k++)
            memcpy(dst + k * dst_k,
                   (const char *)base + ((size_t)(k0 + k) * op->ld + i0) * sizeof(float),
                   sizeof(float) * n);
        return;
    }
    /* walk the destination contiguously */
    if (dst_k == 1) {
        for (int r = 0; r < n; r++)
            for (int k = 0; k < kc; k++)
                dst[r * dst_i + k] = element(base, op->dtype, index_of(op, i0 + r, k0 + k));
    } else {
        for (int k = 0; k < kc; k++)
            for (int r = 0; r < n; r++)
                dst[r * dst_i + k * dst_k] =
                    element(base, op->dtype, index_of(op, i0 + r, k0 + k));
    }
}

/* Blocks expanded at a time per row: 1024 values (4 KiB on the stack). */
enum { QUANT_CHUNK = 1024 };

void sdc_copy_quant(const sdc_operand *op, size_t batch, int i0, int n, int k0, int kc,
                    float *dst, size_t dst_i, size_t dst_k)
{
    (void)batch; /* weights are shared by every batch item */
    const sdc_qtype_info *q = op->quant;
    size_t row_bytes = op->ld / (size_t)q->block * (size_t)q->block_bytes;
    int per_chunk = QUANT_CHUNK / q->block; /* blocks; K-quants: 4 */
    float buf[QUANT_CHUNK];
    for (int r = 0; r < n; r++) {
        const unsigned char *row = (const unsigned char *)op->data + (size_t)(i0 + r) * row_bytes;
        for (int k = 0; k < kc;) {
            int b0 = (k0 + k) / q->block, first = (k0 + k) % q->block;
            int last_block = (k0 + kc - 1) / q->block;
            int nb = last_block - b0 + 1 < per_chunk ? last_block - b0 + 1 : per_chunk;
            q->expand(row + (size_t)b0 * q->block_bytes, buf, (size_t)nb);
            int take = nb * q->block - first < kc - k ? nb * q->block - first : kc - k;
            for (int t = 0; t < take; t++)
                dst[r * dst_i + (size_t)(k + t) * dst_k] = buf[first + t];
            k += take;
        }
    }
}
