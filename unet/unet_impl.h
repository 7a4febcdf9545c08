/* The UNet's weights and per-model state, shared by unet.c (loading) and unet_forward.c. */
#ifndef SDC_UNET_UNET_IMPL_H
#define SDC_UNET_UNET_IMPL_H

#include "ops/arena.h"
#include "unet/block.h"
#include "unet/freeu.h"
#include "unet/timestep.h"
#include "unet/unet.h"

/* Blocks per encoder / decoder accepted from a checkpoint (SD: 11 and 12). */
#define SDC_UNET_MAX_BLOCKS 64

struct sdc_unet {
    int in_channels, out_channels, context_dim;
    sdc_unet_heads heads;

    sdc_unet_time_embed time;        /* time_embed.* */
    sdc_layer conv_in;          /* [C0, in_channels * 3 * 3]  input_blocks.0.0 */
    int n_input;
    sdc_unet_block *input;           /* [n_input]  input_blocks.1.. */
    sdc_unet_resnet mid_resnet1;     /* middle_block.0 */
    sdc_unet_transformer mid_attn;   /* middle_block.1 */
    sdc_unet_resnet mid_resnet2;     /* middle_block.2 */
    int n_output;
    sdc_unet_block *output;          /* [n_output]  output_blocks.* */
    int *output_level;               /* [n_output] decoder level (0 = lowest resolution) */
    sdc_norm norm_out;          /* [C0]  out.0 */
    sdc_layer conv_out;         /* [out_channels, C0 * 3 * 3]  out.2 */

    /* Skip tensors: conv_in's output, then every input block's (the tensors themselves
     * belong to the pass, sdc_unet_pass). */
    int n_skip;                      /* 1 + n_input == n_output */
    int *skip_c;                     /* [n_skip] channels */
    int *skip_level;                 /* [n_skip] downsamplers before it */

    /* label_emb (optional): SDXL's MLP on a label vector, or a table of class embeddings. */
    int label_dim;                   /* vector width; 1 for a class table; 0 without */
    sdc_layer label1;           /* [time.dim, label_dim]  label_emb.0.0 */
    sdc_layer label2;           /* [time.dim, time.dim]   label_emb.0.2 */
    const sdc_tensor *classes;       /* [n_classes, time.dim]  label_emb.weight, a view */

    sdc_freeu freeu;
    sdc_arena arena;
    sdc_layer_table layers;          /* every linear / conv layer by checkpoint name */
};

#endif
