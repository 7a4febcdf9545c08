/* Prompt -> UNet context: tokenizer, text encoder and prompt weighting together.
 *
 * Two modes:
 *   emphasis (AUTOMATIC1111): the (text:1.2) / [text] / BREAK syntax and prompts of any
 *     length in 77-token chunks (clip/prompt_chunks.h). Each chunk is encoded on its own;
 *     its output rows are multiplied by their tokens' weights and the chunk is then rescaled
 *     so that its mean over all [77, W] values equals the unweighted mean (A1111's
 *     "Original" emphasis). Chunks are concatenated along the token axis: [1, 77 k, W].
 *   strict (diffusers): the plain prompt, truncated to one 77-token window, no weighting.
 *
 * The conditioning layer is the family's (sdc_text_encoder_cond_layers) moved back by clip
 * skip, always followed by final_layer_norm. Each distinct prompt is encoded once: results
 * are cached by prompt string (the most recent SDC_CONDITIONING_CACHE of them).
 *
 * Thread safety: a conditioner uses its text encoder's arena and its own cache, so it serves
 * one call at a time; it borrows the tokenizer and the text encoder, which must outlive it
 * (and the text encoder must not run elsewhere during a call). */
#ifndef SDC_CLIP_CONDITIONING_H
#define SDC_CLIP_CONDITIONING_H

#include "clip/text_encoder.h"
#include "clip/tokenizer.h"

/* Encoded prompts kept for reuse. */
#define SDC_CONDITIONING_CACHE 16

typedef struct sdc_conditioner sdc_conditioner;

typedef struct sdc_conditioning_params {
    int emphasis;  /* 1: AUTOMATIC1111 mode; 0: strict diffusers mode */
    int clip_skip; /* 1 (or 0): the family's conditioning layer; 2: one layer earlier; ... */
    int pad_id;    /* token after the closing EOS (sdc_checkpoint_pad_token) */
} sdc_conditioning_params;

/* Fails (SDC_ERR_ARG) when clip_skip leaves no layer or pad_id is outside the vocabulary. */
sdc_status sdc_conditioner_create(const sdc_tokenizer *tok, sdc_text_encoder *te,
                                  const sdc_conditioning_params *params, sdc_conditioner **out);
void sdc_conditioner_free(sdc_conditioner *c);

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

#endif
