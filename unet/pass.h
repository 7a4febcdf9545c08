/* What every UNet block needs during one forward pass besides its own weights. */
#ifndef SDC_UNET_PASS_H
#define SDC_UNET_PASS_H

#include "ops/arena.h"

typedef struct sdc_unet_pass {
    sdc_arena *arena;     /* activations and kernel scratch, released block by block */
    int B;                /* batch size */
    const float *temb;    /* [temb_rows, temb_dim] SiLU(time (+ label) embedding) */
    int temb_rows;        /* 1: shared by the whole batch; B: one per row (labels) */
    const float *context; /* [B, T, context_dim] cross-attention context */
    int T;                /* context tokens (77 * k) */
    /* Skip tensors of this pass: conv_in's output, then every input block's. */
    float **skip;         /* [n_skip] into the arena */
    int *skip_h, *skip_w; /* [n_skip] */
} sdc_unet_pass;

#endif
