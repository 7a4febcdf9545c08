/* What every UNet block needs during one forward pass besides its own weights. */
#ifndef SDC_UNET_PASS_H
#define SDC_UNET_PASS_H

#include "ops/arena.h"

typedef struct sdc_unet_pass {
    sdc_arena *arena;     /* activations and kernel scratch, released block by block */
    int B;                /* batch size */
    const float *temb;    /* [temb_dim] SiLU(time embedding), shared by the whole batch */
    const float *context; /* [B, T, context_dim] cross-attention context */
    int T;                /* context tokens (77 * k) */
} sdc_unet_pass;

#endif
