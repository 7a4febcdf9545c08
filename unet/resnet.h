/* The UNet's ResNet block (LDM ResBlock, diffusers ResnetBlock2D):
 *   h = conv1(SiLU(GN(x))) + proj(SiLU(temb))[:, :, None, None]
 *   y = skip(x) + conv2(SiLU(GN(h)))          skip = identity or a 1x1 conv
 * GroupNorm: 32 groups, eps 1e-5. Layout NCHW. */
#ifndef SDC_UNET_RESNET_H
#define SDC_UNET_RESNET_H

#include "unet/load.h"
#include "unet/pass.h"

typedef struct sdc_unet_resnet {
    int c_in, c_out;
    sdc_norm norm1;  /* [c_in]                     in_layers.0 */
    sdc_layer conv1; /* [c_out, c_in * 3 * 3]      in_layers.2 */
    sdc_layer emb;   /* [c_out, temb_dim]          emb_layers.1 */
    sdc_norm norm2;  /* [c_out]                    out_layers.0 */
    sdc_layer conv2; /* [c_out, c_out * 3 * 3]     out_layers.3 */
    int has_skip;
    sdc_layer skip;  /* [c_out, c_in], when c_in != c_out   skip_connection */
} sdc_unet_resnet;

/* Loads "<prefix>.*" for c_in input channels and a temb_dim-wide time embedding. */
sdc_status sdc_unet_resnet_load(sdc_unet_resnet *r, const sdc_layer_source *src, const char *prefix,
                                int c_in, int temb_dim);
void sdc_unet_resnet_free(sdc_unet_resnet *r);

/* y [B, c_out, H, W] = resnet(x [B, c_in, H, W]); y must not alias x. */
sdc_status sdc_unet_resnet_forward(const sdc_unet_resnet *r, const sdc_unet_pass *p, float *y,
                                   const float *x, int H, int W);

#endif
