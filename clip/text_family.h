/* How a checkpoint's text encoder conditions: the family rules (docs/formats.md) applied to
 * what its files say.
 *   - layers used: all stored layers for SD 1.x and for diffusers folders (whose SD 2.x text
 *     encoder already lacks the last layer); one fewer for OpenCLIP single files (SD 2.x),
 *     which hold every layer but condition on the penultimate one. Clip skip counts back
 *     from there.
 *   - activation: config.json's hidden_act in diffusers folders, else quick_gelu (OpenAI
 *     CLIP) except for SD 2.x (OpenCLIP, exact gelu).
 *   - pad token: special_tokens_map.json when the model has a tokenizer, else 49407 (SD 1.x)
 *     or 0 (SD 2.x). */
#ifndef SDC_CLIP_TEXT_FAMILY_H
#define SDC_CLIP_TEXT_FAMILY_H

#include "weights/checkpoint.h"

typedef struct sdc_text_family {
    int layers;      /* stored: text_model.encoder.layers.N */
    int cond_layers; /* run by the family's conditioning before final_layer_norm */
    int quick_gelu;  /* 1: x sigmoid(1.702 x); 0: exact gelu */
    int pad_token;   /* fills prompts up to 77 tokens after the closing EOS */
} sdc_text_family;

sdc_text_family sdc_text_family_of(const sdc_checkpoint *ck);

#endif
