/* A ControlNet (lllyasviel's cldm.ControlNet, diffusers' ControlNetModel): a trainable copy
 * of the UNet's encoder that reads a control picture through a small convolutional hint
 * encoder and hands the UNet one residual per skip tensor plus one for the middle block
 * (sdc_unet_cond.residuals):
 *
 *   hint     = input_hint_block(picture [3, 8h, 8w] in 0..1)         [C0, h, w], once
 *   skips    = encoder(x, t, context) with conv_in(x) + hint          (the UNet's own blocks)
 *   down_i   = zero_convs.i(skip_i),  mid = middle_block_out(middle)  (1x1 convolutions)
 *
 * Its file is opened by sdc_checkpoint_open_controlnet (every layout it accepts is listed
 * there); the weights stay views of the mapping. One net runs one forward at a time. */
#ifndef SDC_CONTROL_CONTROLNET_H
#define SDC_CONTROL_CONTROLNET_H

#include "unet/unet.h"

typedef struct sdc_controlnet sdc_controlnet;

sdc_status sdc_controlnet_load(const char *path, sdc_controlnet **out);
void sdc_controlnet_free(sdc_controlnet *cn);

const char *sdc_controlnet_path(const sdc_controlnet *cn);
/* Its encoder, for the shapes of its inputs and residuals (skip count and shapes, middle
 * width, context width, input channels, label width). */
const sdc_unet *sdc_controlnet_encoder(const sdc_controlnet *cn);
/* Channels of the control picture (3). */
int sdc_controlnet_hint_channels(const sdc_controlnet *cn);

/* Fails (naming the net's file) unless its residuals fit `unet` at an h x w latent: as many
 * skip tensors, each of the same shape, the same middle width and context width; and unless
 * it reads the latent alone (4 channels) with the UNet's label width. */
sdc_status sdc_controlnet_check(const sdc_controlnet *cn, const sdc_unet *unet, int h, int w);

/* hint [C0, h, w] = input_hint_block(picture [hint_channels, 8h, 8w]). */
sdc_status sdc_controlnet_hint(sdc_controlnet *cn, const float *picture, int h, int w,
                               float *hint);

/* res[i] += scale[i] * down_i for i < skip count, res[skip count] += scale[skip count] * mid,
 * for the batch x [B, 4, h, w] at timestep t with cond's context rows; hint from
 * sdc_controlnet_hint is shared by every row. res[i] is [B, C_i, h_i, w_i]. */
sdc_status sdc_controlnet_forward(sdc_controlnet *cn, const float *x, int B, int h, int w,
                                  float t, const sdc_unet_cond *cond, const float *hint,
                                  const float *scale, float *const *res);
/* Packed bf16 weights for the net's layers over a sampling loop, as for the UNet's
 * (weights/packed_weights.h): on, or off (the copies freed). */
sdc_status sdc_controlnet_pack_weights(sdc_controlnet *cn, int on);

#endif
