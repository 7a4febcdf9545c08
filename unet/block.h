/* One entry of LDM's input_blocks / output_blocks (a TimestepEmbedSequential):
 *   input block:  resnet [+ spatial transformer]        or a lone downsampler
 *   output block: resnet [+ spatial transformer] [+ upsampler]
 * Downsampler: 3x3 conv, stride 2, pad 1 ("op"). Upsampler: nearest resize to the size of
 * the skip tensor it meets next (2x unless a down-sampled size was odd), then 3x3 conv
 * ("conv"). Layout NCHW. */
#ifndef SDC_UNET_BLOCK_H
#define SDC_UNET_BLOCK_H

#include "unet/resnet.h"
#include "unet/transformer.h"

typedef struct sdc_unet_block {
    int c_in, c_out;
    int has_resnet;
    sdc_unet_resnet resnet;    /* <prefix>.0 */
    int has_attn;
    sdc_unet_transformer attn; /* <prefix>.1 */
    int has_down;
    sdc_layer down;       /* [c_out, c_in * 3 * 3]   <prefix>.0.op */
    int has_up;
    sdc_layer up;         /* [c_out, c_out * 3 * 3]  <prefix>.<1|2>.conv */
} sdc_unet_block;

/* Loads the block at "<prefix>" (e.g. "input_blocks.4") taking c_in channels. */
sdc_status sdc_unet_block_load(sdc_unet_block *b, const sdc_layer_source *src, const char *prefix,
                               int c_in, int temb_dim, int *context_dim,
                               const sdc_unet_heads *rule);
void sdc_unet_block_free(sdc_unet_block *b);
/* Whether "<prefix>" holds a block at all. */
int sdc_unet_block_present(const sdc_layer_source *src, const char *prefix);

/* Spatial size of the block's output for an input of H x W (up_h x up_w: the upsampler's
 * target). */
void sdc_unet_block_out_size(const sdc_unet_block *b, int H, int W, int up_h, int up_w,
                             int *Ho, int *Wo);

/* y [B, c_out, Ho, Wo] = block(x [B, c_in, H, W]); y must not alias x. */
sdc_status sdc_unet_block_forward(const sdc_unet_block *b, const sdc_unet_pass *p, float *y,
                                  const float *x, int H, int W, int up_h, int up_w);

#endif
