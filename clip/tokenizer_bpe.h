/* Byte-level BPE of one pre-tokenized word (internal), with a cache of recent words.
 *
 * Same result as OpenAI's SimpleTokenizer.bpe: the word's UTF-8 bytes become byte
 * symbols, the last one carrying "</w>"; then, repeatedly, the adjacent pair with the
 * lowest merge rank is merged at every occurrence, left to right, until no ranked pair
 * remains. A heap of candidate pairs keeps long words at O(n log n). */
#ifndef SDC_CLIP_TOKENIZER_BPE_H
#define SDC_CLIP_TOKENIZER_BPE_H

#include <stddef.h>

#include "clip/tokenizer_text.h"
#include "clip/vocab.h"

/* Thread-safe: lookups and inserts hold an internal mutex. */
typedef struct sdc_bpe_cache sdc_bpe_cache;

sdc_status sdc_bpe_cache_new(sdc_bpe_cache **out);
void sdc_bpe_cache_free(sdc_bpe_cache *cache);

/* Appends the ids of word[0..len) (non-empty) to ids; cache may be NULL. */
sdc_status sdc_bpe_word(const sdc_vocab *v, sdc_bpe_cache *cache, const char *word,
                        size_t len, sdc_u32 *ids);

#endif
