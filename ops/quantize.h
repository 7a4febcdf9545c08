/* f32 rows into ggml blocks, as stable-diffusion.cpp's converter makes them (ggml's
 * quantize_chunk with an all-ones importance matrix): q8_0 by ggml's reference rounding
 * (quantize_row_q8_0_ref), q4_0 by its weighted search (quantize_row_q4_0_impl). The same
 * float operations in the same order, so the blocks are identical to ggml's. */
#ifndef SDC_OPS_QUANTIZE_H
#define SDC_OPS_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>

/* Quantises one row of n values (n a multiple of the block size) of ggml type `id` into
 * dst (n / block * block_bytes bytes). Returns 0, or -1 for a type it cannot make. */
int sdc_quantize_row(uint32_t id, const float *x, size_t n, uint8_t *dst);
/* The same by ggml's plain reference rounding (quantize_row_q4_0_ref and its siblings: one
 * scale from the block's extremes, no search; q8_0 is that already), about two orders of
 * magnitude faster than the weighted searches for q4_0, q4_1, q5_0 and q5_1; the K-quants
 * go through sdc_quantize_row. What --conv-type quantises at load with. */
int sdc_quantize_row_ref(uint32_t id, const float *x, size_t n, uint8_t *dst);
/* Whether sdc_quantize_row makes type `id`. */
int sdc_quantize_supported(uint32_t id);

#endif
