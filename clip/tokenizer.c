#include "clip/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "clip/tokenizer_bpe.h"
#include "clip/tokenizer_clean.h"
#include "clip/tokenizer_split.h"
#include "clip/vocab.h"
#include "ops/error.h"

struct sdc_tokenizer {
    sdc_vocab *vocab;
    sdc_bpe_cache *cache; /* mutable behind the const API; it locks itself */
};

sdc_status sdc_tokenizer_load(const char *model_tokenizer_dir, const char *explicit_path,
                              sdc_tokenizer **out)
{
    *out = NULL;
    sdc_vocab_source src;
    sdc_status st = sdc_vocab_find(model_tokenizer_dir, explicit_path, &src);
    if (st)
        return st;
    sdc_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for the tokenizer");
    st = sdc_vocab_load(&src, &tok->vocab);
    if (!st)
        st = sdc_bpe_cache_new(&tok->cache);
    if (st) {
        sdc_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return SDC_OK;
}

void sdc_tokenizer_free(sdc_tokenizer *tok)
{
    if (!tok)
        return;
    sdc_vocab_free(tok->vocab);
    sdc_bpe_cache_free(tok->cache);
    free(tok);
}

/* The prompt as code points, after its cleanup. */
static sdc_status decode_and_clean(const char *text, sdc_u32 *clean)
{
    if (!text)
        return sdc_fail(SDC_ERR_ARG, "prompt: NULL text");
    size_t len = strlen(text);
    if (len > SDC_PROMPT_MAX_BYTES)
        return sdc_fail(SDC_ERR_ARG, "prompt: %zu bytes, more than the %u MiB accepted", len,
                        SDC_PROMPT_MAX_BYTES >> 20);
    sdc_u32 raw = {0};
    sdc_status st = sdc_utf8_decode(text, len, "prompt", &raw);
    if (!st)
        st = sdc_clip_clean(&raw, clean);
    sdc_u32_free(&raw);
    return st;
}

/* BPE ids of every piece of the cleaned text, appended to ids. */
static sdc_status encode_pieces(const sdc_tokenizer *tok, const sdc_u32 *clean, sdc_u32 *ids)
{
    char *utf8 = NULL;
    size_t cap = 0, pos = 0, start, end;
    sdc_piece_kind kind;
    sdc_status st = SDC_OK;
    while (!st && sdc_clip_next_piece(clean->cp, clean->n, &pos, &start, &end, &kind)) {
        if (kind != SDC_PIECE_WORD) {
            st = sdc_u32_push(ids, kind == SDC_PIECE_BOS ? tok->vocab->bos_id
                                                         : tok->vocab->eos_id);
            continue;
        }
        size_t need = (end - start) * 4;
        if (need > cap) {
            char *p = realloc(utf8, need);
            if (!p) {
                st = sdc_fail(SDC_ERR_NOMEM, "out of memory tokenizing the prompt");
                break;
            }
            utf8 = p;
            cap = need;
        }
        size_t len = 0;
        for (size_t i = start; i < end; i++)
            len += sdc_utf8_put(clean->cp[i], utf8 + len);
        st = sdc_bpe_word(tok->vocab, tok->cache, utf8, len, ids);
    }
    free(utf8);
    return st;
}

sdc_status sdc_tokenize(const sdc_tokenizer *tok, const char *text, int32_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    sdc_u32 clean = {0}, out = {0};
    sdc_status st = decode_and_clean(text, &clean);
    if (!st)
        st = encode_pieces(tok, &clean, &out);
    sdc_u32_free(&clean);
    if (st) {
        sdc_u32_free(&out);
        return st;
    }
    *ids = out.cp;
    *n = out.n;
    return SDC_OK;
}

void sdc_tokenizer_window(const sdc_tokenizer *tok, const int32_t *ids, size_t n,
                          int32_t pad_id, int32_t out[SDC_CLIP_CONTEXT])
{
    size_t k = n < SDC_CLIP_CHUNK_TOKENS ? n : SDC_CLIP_CHUNK_TOKENS;
    out[0] = tok->vocab->bos_id;
    for (size_t i = 0; i < k; i++)
        out[1 + i] = ids[i];
    out[1 + k] = tok->vocab->eos_id;
    for (size_t i = 2 + k; i < SDC_CLIP_CONTEXT; i++)
        out[i] = pad_id;
}

int32_t sdc_tokenizer_bos(const sdc_tokenizer *tok) { return tok->vocab->bos_id; }

int32_t sdc_tokenizer_eos(const sdc_tokenizer *tok) { return tok->vocab->eos_id; }

int32_t sdc_tokenizer_token_id(const sdc_tokenizer *tok, const char *token)
{
    return sdc_vocab_id(tok->vocab, token, strlen(token));
}

const char *sdc_tokenizer_token_string(const sdc_tokenizer *tok, int32_t id)
{
    size_t len;
    return sdc_vocab_token(tok->vocab, id, &len);
}

const char *sdc_tokenizer_source(const sdc_tokenizer *tok) { return tok->vocab->source.path; }

sdc_status sdc_tokenizer_clean_text(const char *text, char **out)
{
    *out = NULL;
    sdc_u32 clean = {0};
    sdc_status st = decode_and_clean(text, &clean);
    if (!st)
        st = sdc_utf8_encode(clean.cp, clean.n, out, NULL);
    sdc_u32_free(&clean);
    return st;
}
