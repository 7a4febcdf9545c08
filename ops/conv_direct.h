/* Direct 3x3 convolution from a padded copy of the input (private to ops/; model code calls
 * sdc_conv3x3_fused in ops/nn.h, which chooses it), in bf16 pairs or in f32.
 *
 * Why not the packed GEMM: an implicit-GEMM 3x3 conv packs every input value nine times
 * (K = 9 Cin rows of B), and with few output channels (TAESD: 64) each packed value feeds
 * only 64 products, so packing cost about as much as multiplying (perf: pack_im2col 36%,
 * micro-kernel 33% of a 512x512 64-channel conv). Here the input is copied once, with a zero
 * border, into 32-bit slots: under bf16, pairs of channels (2c, 2c + 1) rounded to bf16, the
 * 32 bits a vdpbf16ps lane takes (low half 2c); under fp32, one channel's f32 value:
 *
 *   input [B][Cp][Ho + 2][Wo + 2] (+ SDC_CONV_INPUT_TAIL slots), border zero,
 *   Cp = ceil(Cin / 2) (bf16) or Cin (fp32)
 *
 * where (Ho, Wo) is the output size (2H x 2W when the nearest 2x upsample is fused: the copy
 * reads pixel (y / 2, x / 2)). A 3x3 tap (ky, kx) of output pixels x0 .. x0 + 15 of row oy is
 * then 16 consecutive slots of padded row oy + ky from column x0 + kx: one unaligned load, no
 * edge cases. Weights take the same slots, [Cout / MR tiles][Cp * 9][MR], step
 * s = (cp * 3 + ky) * 3 + kx. bf16 products are summed in f32, as the bf16 GEMM does; fp32
 * ones are fused multiply-adds. */
#ifndef SDC_OPS_CONV_DIRECT_H
#define SDC_OPS_CONV_DIRECT_H

#include <stddef.h>
#include <stdint.h>

#include "ops/weight.h"

/* Output channels per weight tile (rows of the register tile). */
enum { SDC_CONV_DIRECT_MR = 8 };
/* Slots past the last pair row: tail pixel tiles load past the row end, never past this. */
enum { SDC_CONV_INPUT_TAIL = 64 };

/* One fused convolution, as sdc_conv3x3_fused describes it. */
typedef struct sdc_conv_direct {
    float *y;               /* [B, Cout, Ho, Wo] */
    const float *x;         /* [B, Cin, H, W] */
    const float *bias;      /* [Cout] or NULL */
    const float *residual;  /* [B, Cout, Ho, Wo] or NULL; may equal y */
    int B, Cin, Cout, H, W, up, relu;
    int bf16;               /* slots: bf16 pairs of channels, else f32 values */
    int Ho, Wo, Cp;         /* output size; slot planes */
} sdc_conv_direct;

static inline size_t sdc_conv_input_slots(const sdc_conv_direct *j)
{
    return (size_t)j->B * j->Cp * (j->Ho + 2) * (j->Wo + 2) + SDC_CONV_INPUT_TAIL;
}

static inline size_t sdc_conv_weight_slots(const sdc_conv_direct *j)
{
    int tiles = (j->Cout + SDC_CONV_DIRECT_MR - 1) / SDC_CONV_DIRECT_MR;
    return (size_t)tiles * j->Cp * 9 * SDC_CONV_DIRECT_MR;
}

/* w [Cout, Cin * 9] as weight tiles of slots (zero rows past Cout, zero high halves past
 * Cin). */
void sdc_conv_pack_weights(const sdc_conv_direct *j, const sdc_weight *w, uint32_t *wp);
/* The padded input (portable; the AVX-512 copies give the same bits). */
void sdc_conv_pack_input_ref(const sdc_conv_direct *j, uint32_t *in);
/* The scalar reference of the whole convolution from the packed input and weights: bf16
 * product pairs summed as vdpbf16ps does (f32), f32 products fused, then the epilogue of
 * sdc_conv3x3_fused. */
void sdc_conv_direct_ref(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp);

/* The AVX512_BF16 versions (j->bf16; only when sdc_cpu_has_bf16()). */
void sdc_conv_pack_input_bf16(const sdc_conv_direct *j, uint32_t *in);
void sdc_conv_direct_bf16(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp);
/* The AVX2 f32 versions (!j->bf16; at the AVX2 level or above). */
void sdc_conv_pack_input_avx2(const sdc_conv_direct *j, uint32_t *in);
void sdc_conv_direct_avx2(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp);
/* The AVX-512 f32 versions (!j->bf16; only at the AVX512 level). */
void sdc_conv_pack_input_avx512(const sdc_conv_direct *j, uint32_t *in);
void sdc_conv_direct_avx512(const sdc_conv_direct *j, const uint32_t *in, const uint32_t *wp);

#endif
