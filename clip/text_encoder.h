/* The CLIP text transformer of Stable Diffusion: OpenAI CLIP ViT-L/14 (SD 1.x, QuickGELU) and
 * OpenCLIP ViT-H (SD 2.x, exact GELU), generic over width, depth and vocabulary, built from
 * the checkpoint's Hugging Face CLIP internal names (text_model.*).
 *
 *   x = token_embedding[ids] + position_embedding            // [S, P, W], P = 77
 *   for each layer: x += attn(ln1(x)) (causal, heads = W / 64); x += mlp(ln2(x))
 *   conditioning = final_layer_norm(x after layer `layer`)
 *
 * A sequence of T = P * k tokens is k chunks, each encoded on its own with positions 0..P-1
 * (long prompts); the outputs are concatenated back along the token axis, so ids [B, T]
 * give hidden states [B, T, W].
 *
 * Layers: `layers` counts the layers stored in the checkpoint, `cond_layers` those the
 * family's conditioning runs (SD 2.x single files hold one more layer than their
 * conditioning uses; diffusers folders do not). Clip skip counts back from cond_layers.
 * A forward can return several layers' states at once plus the pooled EOS-token row,
 * which is what SDXL's two encoders need.
 *
 * Thread safety: a text encoder owns its activation arena, so one sdc_text_encoder runs one
 * forward at a time (kernels are OpenMP-parallel inside); separate objects are independent.
 * Weight matrices stay views of the checkpoint's mapping (see ops/weight.h): close the
 * checkpoint only after sdc_text_encoder_free. */
#ifndef SDC_CLIP_TEXT_ENCODER_H
#define SDC_CLIP_TEXT_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "weights/checkpoint.h"
#include "weights/layer_table.h"

typedef struct sdc_text_encoder sdc_text_encoder;

/* One output of a forward. */
typedef struct sdc_text_request {
    int layer;      /* the hidden states after this many layers, 1..layers */
    int final_norm; /* non-zero: passed through final_layer_norm */
    float *hidden;  /* [B, T, W] receives them, or NULL */
    float *pooled;  /* [B * T / P, sdc_text_encoder_pooled_dim] receives each chunk's row at
                       its EOS token (the first position of its largest id, as CLIP's pooler),
                       through text_projection when the encoder has one, or NULL */
} sdc_text_request;

sdc_status sdc_text_encoder_load(const sdc_checkpoint *ck, sdc_text_encoder **out);
/* The text encoder of `component` (SDC_COMPONENT_TEXT, or SDXL's SDC_COMPONENT_TEXT2). */
sdc_status sdc_text_encoder_load_component(const sdc_checkpoint *ck, sdc_component component,
                                           sdc_text_encoder **out);
/* Every linear layer by its Hugging Face CLIP name ("text_model.encoder.layers.0.mlp.fc1"). */
sdc_layer_table *sdc_text_encoder_layer_table(sdc_text_encoder *te);
void sdc_text_encoder_free(sdc_text_encoder *te);
/* Frees the activation memory of the last pass (it goes back to ops/pages.c's kept memory,
 * for the next stage to reuse); the next pass takes it again. */
void sdc_text_encoder_free_activations(sdc_text_encoder *te);

/* Runs ids [B, T] (T a multiple of P, every id below the vocabulary size) through as many
 * layers as the deepest request needs and fills every request. The first call at a new size
 * grows the arena; later calls of at most that size allocate nothing. */
sdc_status sdc_text_encoder_forward(sdc_text_encoder *te, const int32_t *ids, int B, int T,
                                    const sdc_text_request *requests, int count);
/* The same with input rows [B * T] (may be NULL): a non-NULL rows[i] [W] is the token
 * embedding of position i instead of its id's (textual inversion, clip/embeddings.h). */
sdc_status sdc_text_encoder_forward_rows(sdc_text_encoder *te, const int32_t *ids,
                                         const float *const *rows, int B, int T,
                                         const sdc_text_request *requests, int count);

/* The layer whose final_layer_norm output is the conditioning for AUTOMATIC1111's clip skip
 * (1 = the family's conditioning, 2 = one layer earlier, ...; 0 counts as 1). Fails when the
 * skip leaves no layer. */
sdc_status sdc_text_encoder_skip_layer(const sdc_text_encoder *te, int clip_skip, int *layer);

int sdc_text_encoder_width(const sdc_text_encoder *te);
/* Width of the pooled rows: the projection's (SDXL's bigG: 1280) or W. */
int sdc_text_encoder_pooled_dim(const sdc_text_encoder *te);       /* W: 768 SD 1.x, 1024 SD 2.x */
int sdc_text_encoder_positions(const sdc_text_encoder *te);   /* P: 77 */
int sdc_text_encoder_vocab(const sdc_text_encoder *te);       /* 49408 */
int sdc_text_encoder_layers(const sdc_text_encoder *te);      /* stored layers */
int sdc_text_encoder_cond_layers(const sdc_text_encoder *te); /* the family's conditioning */
int sdc_text_encoder_quick_gelu(const sdc_text_encoder *te);  /* 1 QuickGELU, 0 exact GELU */
/* Peak activation memory of the forwards so far, in bytes. */
size_t sdc_text_encoder_arena_peak(const sdc_text_encoder *te);

#endif
