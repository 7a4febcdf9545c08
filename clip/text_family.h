/* How a checkpoint's text encoder component conditions: the family rules (docs/formats.md)
 * applied to what its files say.
 *   - layers used: SD 1.x and diffusers folders: all stored layers (the SD 2.x folder's text
 *     encoder already lacks the last one); SD 2.x OpenCLIP single files: one fewer (they hold
 *     every layer, the conditioning is the penultimate one); SDXL, both encoders: one fewer
 *     (hidden_states[-2]). Clip skip counts back from there.
 *   - final_layer_norm on the conditioning: yes, except SDXL.
 *   - activation: config.json's hidden_act in diffusers folders, else quick_gelu (OpenAI
 *     CLIP) except for OpenCLIP encoders (SD 2.x, SDXL's second), exact gelu.
 *   - pad token: special_tokens_map.json when the model has one, else 49407 (OpenAI CLIP) or
 *     0 (OpenCLIP). */
#ifndef SDC_CLIP_TEXT_FAMILY_H
#define SDC_CLIP_TEXT_FAMILY_H

#include "weights/checkpoint.h"

typedef struct sdc_text_family {
    int layers;      /* stored: text_model.encoder.layers.N */
    int cond_layers; /* run by the family's conditioning */
    int final_norm;  /* the conditioning goes through final_layer_norm */
    int quick_gelu;  /* 1: x sigmoid(1.702 x); 0: exact gelu */
    int pad_token;   /* fills prompts up to 77 tokens after the closing EOS */
} sdc_text_family;

/* The rules for text encoder `component` (SDC_COMPONENT_TEXT or SDC_COMPONENT_TEXT2);
 * layers is 0 when the checkpoint has no such encoder. */
sdc_text_family sdc_text_family_of(const sdc_checkpoint *ck, sdc_component component);

#endif
