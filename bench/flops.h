/* FLOP counts of the model stages, read off the checkpoint's tensor shapes (an FMA is 2
 * FLOP). Counted: every convolution, linear layer and attention product (QK^T and PV, the
 * full square even for causal attention). Not counted: norms, activations, softmax and
 * other elementwise work, under 1% of the total at SD sizes. */
#ifndef SDC_BENCH_FLOPS_H
#define SDC_BENCH_FLOPS_H

#include "weights/checkpoint.h"

/* UNet forward on a [B, C, h, w] latent with a T-token context. */
double sdc_bench_unet_flops(const sdc_checkpoint *ck, int B, int h, int w, int T);
/* VAE decode of a [B, 4, h, w] latent (post_quant_conv and decoder). */
double sdc_bench_vae_decode_flops(const sdc_checkpoint *ck, int B, int h, int w);
/* Text encoder on B sequences of T tokens, through `layers` layers. */
double sdc_bench_text_flops(const sdc_checkpoint *ck, sdc_component c, int B, int T, int layers);

#endif
