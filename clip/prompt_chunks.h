/* A prompt as the text encoder consumes it: 77-token chunks with a weight per token.
 *
 * With the emphasis syntax (AUTOMATIC1111's FrozenCLIPEmbedderWithCustomWords
 * .tokenize_line): the runs of prompt_attention.h are tokenized one by one and their
 * tokens, each carrying its run's weight, fill chunks of 75. A BREAK run ends the current
 * chunk. When a chunk is full and the last comma in it lies at most 20 tokens back
 * ("comma padding backtrack"), the tokens after that comma move to the next chunk.
 * Each chunk is then [BOS] + its tokens padded with EOS to 75 + [EOS], weights 1 for
 * BOS, EOS and padding; an empty prompt gives one chunk.
 *
 * Without it (diffusers): the plain prompt's first 75 tokens in one chunk, weights 1.
 *
 * Padding when pad_id differs from EOS (SD 2.x pads with 0): with the emphasis syntax
 * every position after a chunk's first EOS holds pad_id (as A1111 does); without it, every
 * position after the closing EOS (sdc_tokenizer_window). */
#ifndef SDC_CLIP_PROMPT_CHUNKS_H
#define SDC_CLIP_PROMPT_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

#include "clip/embeddings.h"
#include "clip/tokenizer.h"

/* A prompt may fill at most this many 75-token chunks (3000 tokens): a 1 MB prompt is an
 * error at once, not gigabytes of text-encoder rows (docs/cli.md). */
#define SDC_PROMPT_MAX_CHUNKS 40

/* Tokens looked back for a comma when a chunk overflows (A1111's default). */
#define SDC_COMMA_PADDING_BACKTRACK 20

typedef struct sdc_token_chunk {
    int32_t ids[SDC_CLIP_CONTEXT];
    float weights[SDC_CLIP_CONTEXT];
    /* the input row of a textual-inversion placeholder (a vector of the embedding), NULL
     * for a token's own row */
    const float *vectors[SDC_CLIP_CONTEXT];
} sdc_token_chunk;

/* *chunks is malloc'd ([*count], at least one). */
sdc_status sdc_prompt_to_chunks(const sdc_tokenizer *tok, const char *prompt, int pad_id,
                                int use_attention_syntax, sdc_token_chunk **chunks,
                                size_t *count);

/* The same with textual-inversion embeddings: where the tokens of an embedding's name occur
 * in a run, n placeholder ids 0 carrying its vectors and the run's weight; when they do not
 * fit in the current chunk it is closed first (in the strict mode's one window they are cut
 * off with the text past 75 tokens). */
sdc_status sdc_prompt_to_chunks_embedded(const sdc_tokenizer *tok, const char *prompt,
                                         int pad_id, int use_attention_syntax,
                                         const sdc_embedding_db *embeddings,
                                         sdc_token_chunk **chunks, size_t *count);

#endif
