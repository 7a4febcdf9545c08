/* The CLIP byte-level BPE vocabulary: token strings, their ids and the ranked merges.
 *
 * Two file formats hold it:
 *   - OpenAI's bpe_simple_vocab_16e6.txt.gz: line 1 a header, lines 2..48895 the 48894
 *     merges CLIP uses ("a b" per line; later lines are ignored). Ids: the 256 byte
 *     symbols in GPT-2 bytes_to_unicode order, the same with "</w>", one token per merge,
 *     then <|startoftext|> and <|endoftext|> (49408 in all).
 *   - a Hugging Face pair (a diffusers tokenizer/ folder): vocab.json (token -> id) and
 *     merges.txt (a "#version" line, then the merges).
 *
 * Where sdc looks, in order (sdc_vocab_find):
 *   1. the model's own tokenizer folder (diffusers tokenizer/, or the folder of a single
 *      file that holds vocab.json + merges.txt beside it), when there is one;
 *   2. an explicit path (--vocab): the .gz file, or a folder with vocab.json + merges.txt
 *      (or with bpe_simple_vocab_16e6.txt.gz);
 *   3. $SDC_VOCAB, the same kinds of path;
 *   4. the per-user data folder $XDG_DATA_HOME/sdc, by default ~/.local/share/sdc, holding
 *      bpe_simple_vocab_16e6.txt.gz or vocab.json + merges.txt.
 * A path given in 2 or 3 that holds no vocabulary is an error, not skipped. */
#ifndef SDC_CLIP_VOCAB_H
#define SDC_CLIP_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clip/vocab_map.h"
#include "sdc.h"

#define SDC_VOCAB_GZ_NAME "bpe_simple_vocab_16e6.txt.gz"
/* Merges CLIP uses: 49152 - 256 - 2 (lines 2..48895 of the .gz). */
#define SDC_VOCAB_CLIP_MERGES 48894
#define SDC_VOCAB_BOS "<|startoftext|>"
#define SDC_VOCAB_EOS "<|endoftext|>"
#define SDC_VOCAB_WORD_END "</w>"
/* Largest vocabulary file read (the real ones are about 1.4 MB compressed, 2 MB JSON). */
#define SDC_VOCAB_MAX_FILE_BYTES (64u << 20)

typedef enum sdc_vocab_format {
    SDC_VOCAB_FORMAT_OPENAI_GZ, /* path is the .gz file */
    SDC_VOCAB_FORMAT_HF_PAIR,   /* path is the folder holding vocab.json + merges.txt */
} sdc_vocab_format;

typedef struct sdc_vocab_source {
    sdc_vocab_format format;
    char path[4096];
} sdc_vocab_source;

typedef struct sdc_vocab {
    char *pool;            /* every token string, NUL-separated */
    size_t pool_len, pool_cap;
    uint32_t *off, *len;   /* [n_tokens] token string offset / length in pool */
    size_t n_tokens, cap_tokens;
    size_t n_merges;
    sdc_strmap ids;        /* token string -> id */
    sdc_pairmap merges;    /* (left, right) -> rank, merged id */
    int32_t byte_id[256];  /* symbol of each byte inside a word */
    int32_t byte_end_id[256]; /* the same symbol with "</w>", ending a word */
    int32_t bos_id, eos_id;
    sdc_vocab_source source;
} sdc_vocab;

/* Finds the vocabulary by the search order above. model_tokenizer_dir and explicit_path
 * may be NULL. When none is found the message lists where sdc looked and what to get. */
sdc_status sdc_vocab_find(const char *model_tokenizer_dir, const char *explicit_path,
                          sdc_vocab_source *out);
/* The per-user data folder ($XDG_DATA_HOME/sdc or $HOME/.local/share/sdc). */
sdc_status sdc_vocab_user_dir(char *buf, size_t size);

/* Loads and validates the files; *out is NULL on failure. */
sdc_status sdc_vocab_load(const sdc_vocab_source *src, sdc_vocab **out);
void sdc_vocab_free(sdc_vocab *v);

/* Id of the token string s[0..len), or -1. */
int32_t sdc_vocab_id(const sdc_vocab *v, const char *s, size_t len);
/* The token string of id (not NUL-terminated), its length in *len; NULL if out of range. */
const char *sdc_vocab_token(const sdc_vocab *v, int32_t id, size_t *len);

/* Building blocks of the two file readers (vocab.c). */
sdc_status sdc_vocab_init(sdc_vocab *v, size_t max_tokens, size_t max_merges);
/* Appends a token with the next id. */
sdc_status sdc_vocab_add_token(sdc_vocab *v, const char *s, size_t len);
/* Registers merge number `rank` of the strings a and b; `where` names the line in errors. */
sdc_status sdc_vocab_add_merge(sdc_vocab *v, const char *a, size_t alen, const char *b,
                               size_t blen, int32_t rank, const char *where);
/* Resolves the byte symbols and special tokens once all tokens are in. */
sdc_status sdc_vocab_finish(sdc_vocab *v, const char *where);
/* The bytes_to_unicode symbol of byte b as UTF-8 (NUL-terminated), its length returned. */
size_t sdc_vocab_byte_symbol(unsigned b, char out[4]);
/* The order of bytes in the first 256 ids. */
unsigned sdc_vocab_byte_at(unsigned index);

/* Readers of each format (vocab_openai.c, vocab_hf.c). */
sdc_status sdc_vocab_read_openai(const char *path, sdc_vocab *v);
sdc_status sdc_vocab_read_hf(const char *dir, sdc_vocab *v);

/* Splits a merge line into its two symbols (ASCII whitespace separated); false unless
 * there are exactly two. */
bool sdc_vocab_split_merge(const char *line, size_t len, const char **a, size_t *alen,
                           const char **b, size_t *blen);

#endif
