/* One pre-LN transformer layer of the CLIP text encoder
 * ("text_model.encoder.layers.N.*"), token layout [S, P, W] (S sequences of P tokens):
 *
 *   x += out_proj(causal_attention(q_proj(ln1(x)), k_proj(ln1(x)), v_proj(ln1(x))))
 *   x += fc2(act(fc1(ln2(x))))        act: QuickGELU (OpenAI CLIP) or exact GELU (OpenCLIP)
 */
#ifndef SDC_CLIP_TEXT_LAYER_H
#define SDC_CLIP_TEXT_LAYER_H

#include "clip/text_load.h"
#include "ops/arena.h"

/* LayerNorm epsilon of every text encoder norm (CLIP and OpenCLIP). */
#define SDC_TEXT_LN_EPS 1e-5f
/* Head size of CLIP / OpenCLIP text transformers: heads = W / 64. */
#define SDC_TEXT_HEAD_DIM 64

/* Sizes shared by all layers of one encoder. */
typedef struct sdc_text_dims {
    int width;      /* W */
    int mlp;        /* F, the MLP's hidden width (4 W in CLIP) */
    int heads;      /* W / SDC_TEXT_HEAD_DIM */
    int positions;  /* P, tokens per sequence (77) */
    int quick_gelu; /* 1: x * sigmoid(1.702 x); 0: exact GELU */
} sdc_text_dims;

typedef struct sdc_text_layer {
    sdc_norm ln1;   /* [W]     layer_norm1 */
    sdc_layer q;   /* [W, W]  self_attn.q_proj */
    sdc_layer k;   /* [W, W]  self_attn.k_proj */
    sdc_layer v;   /* [W, W]  self_attn.v_proj */
    sdc_layer out; /* [W, W]  self_attn.out_proj */
    sdc_norm ln2;   /* [W]     layer_norm2 */
    sdc_layer fc1; /* [F, W]  mlp.fc1 */
    sdc_layer fc2; /* [W, F]  mlp.fc2 */
} sdc_text_layer;

/* Loads layer `index`. When dims->mlp is 0 it is taken from fc1's shape and stored there. */
sdc_status sdc_text_layer_load(sdc_text_layer *l, const sdc_layer_source *src, int index,
                               sdc_text_dims *dims);
void sdc_text_layer_free(sdc_text_layer *l);

/* x [S, P, W] = layer(x), in place; scratch from `arena` (released before returning). */
sdc_status sdc_text_layer_forward(const sdc_text_layer *l, const sdc_text_dims *d,
                                  sdc_arena *arena, float *x, int S);

#endif
