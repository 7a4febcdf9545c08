/* Model parameters in the kernels' format. Weights of linear layers and convolutions are
 * sdc_weight matrices, row-major [rows = outputs, cols = inputs * kh * kw] in F32, F16 or
 * BF16 (the GEMM converts blocks to f32 while packing them). A weight is either a view of the
 * mapped checkpoint (never copied: the checkpoint must outlive the model that loaded it) or
 * owns its buffer (a merged or repacked copy; sdc_weight_free releases it). Vectors (biases,
 * norm scales) are small and become plain f32 arrays. */
#ifndef SDC_OPS_WEIGHT_H
#define SDC_OPS_WEIGHT_H

#include <stdint.h>

#include "ops/tensor.h"
#include "sdc.h"

typedef struct sdc_weight {
    int rows;         /* output features / channels */
    int cols;         /* input features (x kernel area) */
    sdc_dtype dtype;  /* F32, F16 or BF16 */
    const void *data; /* [rows, cols]: a view of the mapping, or `owned` */
    void *owned;      /* the weight's own buffer (malloc'd), NULL for a view */
    /* non-NULL: `data` is [rows][cols / block] ggml blocks of this type (a quantised GGUF
     * file's mapping), expanded block by block while the GEMM packs them; dtype is F32,
     * the type of the expanded values */
    const sdc_qtype_info *quant;
    int int8_counted; /* its bytes are in sdc_weight_int8_bytes (made by sdc_weight_to_q8_0) */
    /* non-NULL: the bf16 kernels' packed copy of data, owned (ops/pack_cache.h); a pointer,
     * so that the GEMM fills it in through a const weight */
    struct sdc_pack_cache *pack;
} sdc_weight;

/* Makes w a view of `t` (F32/F16/BF16, or the blocks of a quantised 2-D tensor, see
 * sdc_tensor_blocked: its f32 expansion need not be loaded); its element count must be
 * rows * cols. `name` is used in the error message. */
sdc_status sdc_weight_load(sdc_weight *w, const sdc_tensor *t, int rows, int cols,
                           const char *name);
/* Like sdc_weight_load for a sub-range of rows [row0, row0 + rows) of a [R, cols] tensor. */
sdc_status sdc_weight_load_rows(sdc_weight *w, const sdc_tensor *t, int row0, int rows, int cols,
                                const char *name);
/* w = a new owned f32 [rows, cols] copy of `src` (any weight dtype): the form a weight takes
 * when it is changed (merged adapters). */
sdc_status sdc_weight_own_f32(sdc_weight *w, const sdc_weight *src);
/* w = a new owned f32 [src->cols, src->rows] transpose of `src` (weights stored as x @ W). */
sdc_status sdc_weight_transpose_f32(sdc_weight *w, const sdc_weight *src);
/* Makes w an owned q8_0 weight (ggml blocks of 32, ggml's reference rounding) quantised from
 * its current values, for --precision int8; a q8_0 weight stays as it is (a view of the
 * file). Fails unless cols is a multiple of 32. Adds the bytes it allocates to a process-wide
 * count (sdc_weight_int8_bytes). */
sdc_status sdc_weight_to_q8_0(sdc_weight *w);
/* Makes w an owned weight of ggml type `id` (any type sdc_quantize_row makes) quantised from
 * its current values by ggml's reference rounding (sdc_quantize_row_ref: the weighted
 * searches of the 4/5-bit types take minutes for a UNet), rows in parallel; what it was (a
 * view, or an owned buffer, freed) is dropped. A
 * weight already of that type stays as it is. Fails unless cols is a multiple of the type's
 * block. The conv kernels of --conv-type (pipeline/conv_quant.c). */
sdc_status sdc_weight_quantize(sdc_weight *w, uint32_t id);
/* The same into dst (sdc_weight_quantized_bytes of it, the caller's memory, which must
 * outlive the weight): w becomes a view of dst. The weight is requantised even when it
 * already has the type. */
sdc_status sdc_weight_quantize_to(sdc_weight *w, uint32_t id, void *dst);
/* Bytes of w as blocks of type `id` (rows of whole blocks assumed; 0 for an unknown id). */
size_t sdc_weight_quantized_bytes(const sdc_weight *w, uint32_t id);
/* Bytes of q8_0 weights made by sdc_weight_to_q8_0 and not yet freed. */
size_t sdc_weight_int8_bytes(void);
/* Bytes that w's data spans: rows x cols of its dtype, or its quantised blocks. */
size_t sdc_weight_bytes(const sdc_weight *w);
/* Row r of w as cols floats at dst (any dtype, quantised too). */
void sdc_weight_row_f32(const sdc_weight *w, int r, float *dst);
/* Releases an owned buffer and forgets the view. */
void sdc_weight_free(sdc_weight *w);

/* Converts a vector of n elements (checked) into a new f32 array in *out (caller frees). */
sdc_status sdc_vector_load(float **out, const sdc_tensor *t, int n, const char *name);

#endif
