/* Prompt -> UNet context (and pooled text vector): the conditioner owns one or more text
 * encoder components, each with its own tokenizer, pad token and output rule. The context is
 * their hidden states side by side along the feature axis ([1, 77 k, W1 + W2 + ...]: SDXL's
 * CLIP ViT-L and OpenCLIP bigG); the pooled vector comes from the component marked `pooled`
 * (its first chunk's EOS row after the last layer and final_layer_norm, as A1111 and
 * diffusers take it).
 *
 * Two modes:
 *   emphasis (AUTOMATIC1111): the (text:1.2) / [text] / BREAK syntax and prompts of any
 *     length in 77-token chunks (clip/prompt_chunks.h). Each chunk is encoded on its own;
 *     its output rows are multiplied by their tokens' weights and the chunk is then rescaled
 *     so that its mean over all [77, W] values equals the unweighted mean (A1111's
 *     "Original" emphasis), per component. Chunks are concatenated along the token axis.
 *   strict (diffusers): the plain prompt, truncated to one 77-token window, no weighting.
 *
 * A component's conditioning layer is its encoder's (sdc_text_encoder_cond_layers) moved
 * back by clip skip, followed by final_layer_norm when the component says so. Each distinct
 * prompt is encoded once: results are cached by prompt string (the most recent
 * SDC_CONDITIONING_CACHE of them).
 *
 * Thread safety: a conditioner uses its text encoders' arenas and its own cache, so it
 * serves one call at a time; it borrows the tokenizers and text encoders, which must outlive
 * it (and must not run elsewhere during a call). */
#ifndef SDC_CLIP_CONDITIONING_H
#define SDC_CLIP_CONDITIONING_H

#include "clip/embeddings.h"
#include "clip/text_encoder.h"
#include "clip/tokenizer.h"

/* Encoded prompts kept for reuse. */
#define SDC_CONDITIONING_CACHE 16

typedef struct sdc_conditioner sdc_conditioner;

/* Most text encoders one conditioner combines. */
#define SDC_CONDITIONER_MAX_ENCODERS 4

/* One text encoder of a conditioner and its rules. */
typedef struct sdc_text_component {
    const sdc_tokenizer *tok; /* borrowed */
    sdc_text_encoder *te;     /* borrowed */
    int pad_id;               /* token after the closing EOS (clip/text_family.h) */
    int final_norm;           /* hidden states through final_layer_norm (SD 1.x / 2.x: 1) */
    int pooled;               /* this component gives the pooled vector (at most one) */
    const sdc_embedding_db *embeddings; /* textual inversion (borrowed), or NULL */
} sdc_text_component;

typedef struct sdc_conditioning_params {
    int emphasis;  /* 1: AUTOMATIC1111 mode; 0: strict diffusers mode */
    int clip_skip; /* 1 (or 0): each encoder's conditioning layer; 2: one layer earlier; ... */
} sdc_conditioning_params;

/* Fails (SDC_ERR_ARG) when clip_skip leaves an encoder no layer, a pad_id is outside its
 * vocabulary, the encoders disagree on positions, or more than one gives the pooled vector. */
sdc_status sdc_conditioner_create(const sdc_text_component *encoders, int count,
                                  const sdc_conditioning_params *params, sdc_conditioner **out);
void sdc_conditioner_free(sdc_conditioner *c);

/* Width of the context rows (the encoders' widths summed) and of the pooled vector (0 when
 * no component gives one). */
int sdc_conditioner_width(const sdc_conditioner *c);
int sdc_conditioner_pooled_dim(const sdc_conditioner *c);

/* *context [1, *tokens, W] (malloc'd; the caller frees it) for `prompt` (UTF-8);
 * *tokens = 77 k. */
sdc_status sdc_conditioner_encode(sdc_conditioner *c, const char *prompt, float **context,
                                  int *tokens);

/* Both contexts of classifier-free guidance with one token count: the one with fewer chunks
 * is extended with copies of the empty prompt's chunk (AUTOMATIC1111 pads the negative
 * prompt, or the prompt, so). Both malloc'd, [1, *tokens, W]; on failure both are NULL. */
sdc_status sdc_conditioner_encode_pair(sdc_conditioner *c, const char *prompt,
                                       const char *negative, float **cond, float **uncond,
                                       int *tokens);

/* Grows *context [1, have, W] (malloc'd) to [1, want, W] with copies of the empty prompt's
 * chunk, as sdc_conditioner_encode_pair pads the shorter of its two. */
sdc_status sdc_conditioner_pad(sdc_conditioner *c, float **context, int have, int want);

/* pooled [sdc_conditioner_pooled_dim] of `prompt` (encoded and cached as above). */
sdc_status sdc_conditioner_pooled(sdc_conditioner *c, const char *prompt, float *pooled);

#endif
