/* CLIP tokenizer: text -> token ids, token for token what OpenAI's simple_tokenizer.py
 * (with ftfy) produces, which is also what SD 1.x / 2.x conditioning uses.
 *
 *   ids = BPE(pretokenize(lower(whitespace_clean(basic_clean(text)))))
 *
 * The cleanup is described in tokenizer_clean.h, the pre-tokenizer in tokenizer_split.h,
 * BPE in tokenizer_bpe.h, and where the vocabulary comes from in vocab.h.
 * A loaded tokenizer may be shared between threads. */
#ifndef SDC_CLIP_TOKENIZER_H
#define SDC_CLIP_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "sdc.h"

/* Tokens the text encoder sees: [BOS] + 75 tokens + [EOS]. */
#define SDC_CLIP_CONTEXT 77
#define SDC_CLIP_CHUNK_TOKENS 75
#define SDC_CLIP_PAD_SD1 49407 /* SD 1.x pads with <|endoftext|> */
#define SDC_CLIP_PAD_SD2 0     /* SD 2.x (OpenCLIP) pads with 0 ("!") */

typedef struct sdc_tokenizer sdc_tokenizer;

/* Finds the vocabulary (model_tokenizer_dir, explicit_path, $SDC_VOCAB, per-user data
 * folder: see vocab.h; both pointers may be NULL) and loads it. */
sdc_status sdc_tokenizer_load(const char *model_tokenizer_dir, const char *explicit_path,
                              sdc_tokenizer **out);
void sdc_tokenizer_free(sdc_tokenizer *tok);

/* All ids of text (UTF-8), without start/end tokens and untruncated. *ids is malloc'd
 * (NULL when *n is 0); invalid UTF-8 is an SDC_ERR_ARG error naming the byte offset. */
sdc_status sdc_tokenize(const sdc_tokenizer *tok, const char *text, int32_t **ids, size_t *n);

/* The 77-token window: [BOS] + first 75 ids + [EOS], then pad_id up to 77. */
void sdc_tokenizer_window(const sdc_tokenizer *tok, const int32_t *ids, size_t n,
                          int32_t pad_id, int32_t out[SDC_CLIP_CONTEXT]);

int32_t sdc_tokenizer_bos(const sdc_tokenizer *tok);
int32_t sdc_tokenizer_eos(const sdc_tokenizer *tok);
/* Id of a token string in byte-level form (e.g. ",</w>"), or -1. */
int32_t sdc_tokenizer_token_id(const sdc_tokenizer *tok, const char *token);
/* The token string of id in byte-level form (NUL-terminated), or NULL. */
const char *sdc_tokenizer_token_string(const sdc_tokenizer *tok, int32_t id);
/* The vocabulary file or folder in use. */
const char *sdc_tokenizer_source(const sdc_tokenizer *tok);

/* The cleaned text the ids are made from (after ftfy, unescaping, whitespace collapse and
 * lower-casing), as malloc'd UTF-8. For diagnostics and tests. */
sdc_status sdc_tokenizer_clean_text(const char *text, char **out);

#endif
