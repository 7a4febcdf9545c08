/* Prompt -> weighted 77-token chunks (prompt_chunks.h). */
#include "clip/prompt_chunks.h"

#include <stdlib.h>
#include <string.h>

#include "clip/prompt_attention.h"
#include "ops/error.h"

typedef struct chunker {
    int32_t ids[SDC_CLIP_CHUNK_TOKENS]; /* the chunk being filled */
    double weights[SDC_CLIP_CHUNK_TOKENS];
    const float *vectors[SDC_CLIP_CHUNK_TOKENS]; /* embedding rows of placeholders, or NULL */
    size_t n;
    long last_comma; /* index of the chunk's last comma, -1 when none */
    sdc_token_chunk *out;
    size_t count, cap;
    int32_t bos, eos, pad, comma;
    const sdc_embedding_db *embeddings; /* NULL: none */
} chunker;

/* A1111 (SD 2.x) overwrites everything after the first EOS with the pad id. */
static void pad_after_first_eos(sdc_token_chunk *k, int32_t eos, int32_t pad)
{
    size_t i = 0;
    while (i < SDC_CLIP_CONTEXT && k->ids[i] != eos)
        i++;
    for (i++; i < SDC_CLIP_CONTEXT; i++)
        k->ids[i] = pad;
}

static sdc_status grow(chunker *c)
{
    if (c->count >= SDC_PROMPT_MAX_CHUNKS)
        return sdc_fail(SDC_ERR_ARG, "prompt longer than %d tokens (%d chunks of %d)",
                        SDC_PROMPT_MAX_CHUNKS * SDC_CLIP_CHUNK_TOKENS, SDC_PROMPT_MAX_CHUNKS,
                        SDC_CLIP_CHUNK_TOKENS);
    if (c->count < c->cap)
        return SDC_OK;
    size_t cap = c->cap ? c->cap * 2 : 4;
    sdc_token_chunk *out = realloc(c->out, cap * sizeof *out);
    if (!out)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for %zu prompt chunks", cap);
    c->out = out;
    c->cap = cap;
    return SDC_OK;
}

/* Closes the current chunk: [BOS] + tokens + EOS padding + [EOS]. */
static sdc_status next_chunk(chunker *c)
{
    sdc_status st = grow(c);
    if (st)
        return st;
    sdc_token_chunk *k = &c->out[c->count++];
    memset(k->vectors, 0, sizeof k->vectors);
    k->ids[0] = c->bos;
    k->weights[0] = 1.0f;
    for (size_t i = 0; i < SDC_CLIP_CHUNK_TOKENS; i++) {
        k->ids[1 + i] = i < c->n ? c->ids[i] : c->eos;
        k->weights[1 + i] = i < c->n ? (float)c->weights[i] : 1.0f;
        k->vectors[1 + i] = i < c->n ? c->vectors[i] : NULL;
    }
    k->ids[SDC_CLIP_CONTEXT - 1] = c->eos;
    k->weights[SDC_CLIP_CONTEXT - 1] = 1.0f;
    if (c->pad != c->eos)
        pad_after_first_eos(k, c->eos, c->pad);
    c->n = 0;
    c->last_comma = -1;
    return SDC_OK;
}

/* A full chunk whose last comma is close to its end: the tokens after the comma open the
 * next chunk instead. */
static sdc_status backtrack_to_comma(chunker *c)
{
    int32_t ids[SDC_CLIP_CHUNK_TOKENS];
    double weights[SDC_CLIP_CHUNK_TOKENS];
    const float *vectors[SDC_CLIP_CHUNK_TOKENS];
    size_t at = (size_t)c->last_comma + 1, moved = c->n - at;
    memcpy(ids, c->ids + at, moved * sizeof *ids);
    memcpy(weights, c->weights + at, moved * sizeof *weights);
    memcpy(vectors, c->vectors + at, moved * sizeof *vectors);
    c->n = at;
    sdc_status st = next_chunk(c);
    memcpy(c->ids, ids, moved * sizeof *ids);
    memcpy(c->weights, weights, moved * sizeof *weights);
    memcpy(c->vectors, vectors, moved * sizeof *vectors);
    c->n = moved;
    return st;
}

/* Makes room for the next token: a full chunk is closed, after moving the tokens behind a
 * recent comma to the next one (A1111 checks this before every token and embedding). */
static sdc_status make_room(chunker *c, int32_t token)
{
    sdc_status st = SDC_OK;
    if (token == c->comma)
        c->last_comma = (long)c->n;
    else if (SDC_COMMA_PADDING_BACKTRACK != 0 && c->n == SDC_CLIP_CHUNK_TOKENS &&
             c->last_comma != -1 &&
             (long)c->n - c->last_comma <= SDC_COMMA_PADDING_BACKTRACK)
        st = backtrack_to_comma(c);
    if (!st && c->n == SDC_CLIP_CHUNK_TOKENS)
        st = next_chunk(c);
    return st;
}

static sdc_status add_token(chunker *c, int32_t token, double weight)
{
    sdc_status st = make_room(c, token);
    if (st)
        return st;
    c->ids[c->n] = token;
    c->vectors[c->n] = NULL;
    c->weights[c->n++] = weight;
    return SDC_OK;
}

/* An embedding's n placeholder tokens (id 0): they start the next chunk when they do not fit
 * in this one. */
static sdc_status add_embedding(chunker *c, int32_t token, const sdc_embedding *e,
                                double weight)
{
    sdc_status st = make_room(c, token);
    if (!st && c->n + (size_t)e->vectors > SDC_CLIP_CHUNK_TOKENS)
        st = next_chunk(c);
    for (int v = 0; v < e->vectors && !st; v++) {
        c->ids[c->n] = 0;
        c->vectors[c->n] = e->data + (size_t)v * c->embeddings->width;
        c->weights[c->n++] = weight;
    }
    return st;
}

static sdc_status add_run(chunker *c, const sdc_tokenizer *tok, const sdc_prompt_run *run)
{
    if (sdc_prompt_run_is_break(run))
        return next_chunk(c);
    int32_t *ids;
    size_t n;
    sdc_status st = sdc_tokenize(tok, run->text, &ids, &n);
    for (size_t i = 0; i < n && !st;) {
        const sdc_embedding *e = sdc_embedding_db_match(c->embeddings, ids + i, n - i);
        st = e ? add_embedding(c, ids[i], e, run->weight) : add_token(c, ids[i], run->weight);
        i += e ? e->n_ids : 1;
    }
    free(ids);
    return st;
}

static sdc_status emphasis_chunks(const sdc_tokenizer *tok, const char *prompt, chunker *c)
{
    sdc_prompt_run *runs;
    size_t n_runs;
    sdc_status st = sdc_prompt_parse_attention(prompt, &runs, &n_runs);
    for (size_t r = 0; r < n_runs && !st; r++)
        st = add_run(c, tok, &runs[r]);
    if (!st && (c->n > 0 || c->count == 0))
        st = next_chunk(c);
    sdc_prompt_runs_free(runs, n_runs);
    return st;
}

/* diffusers: the plain prompt's first 75 tokens, weights 1; an embedding's name becomes its
 * n placeholders there too (those past the 75th are cut off with the text). */
static sdc_status plain_chunk(const sdc_tokenizer *tok, const char *prompt, chunker *c)
{
    int32_t *ids;
    size_t n;
    sdc_status st = sdc_tokenize(tok, prompt, &ids, &n);
    if (!st)
        st = grow(c);
    if (st) {
        free(ids);
        return st;
    }
    int32_t kept[SDC_CLIP_CHUNK_TOKENS];
    const float *vectors[SDC_CLIP_CHUNK_TOKENS];
    size_t m = 0;
    for (size_t i = 0; i < n && m < SDC_CLIP_CHUNK_TOKENS;) {
        const sdc_embedding *e = sdc_embedding_db_match(c->embeddings, ids + i, n - i);
        for (int v = 0; e && v < e->vectors && m < SDC_CLIP_CHUNK_TOKENS; v++) {
            kept[m] = 0;
            vectors[m++] = e->data + (size_t)v * c->embeddings->width;
        }
        if (!e) {
            kept[m] = ids[i];
            vectors[m++] = NULL;
        }
        i += e ? e->n_ids : 1;
    }
    sdc_token_chunk *k = &c->out[c->count++];
    sdc_tokenizer_window(tok, kept, m, c->pad, k->ids);
    memset(k->vectors, 0, sizeof k->vectors);
    memcpy(k->vectors + 1, vectors, m * sizeof *vectors); /* after BOS */
    for (size_t i = 0; i < SDC_CLIP_CONTEXT; i++)
        k->weights[i] = 1.0f;
    free(ids);
    return SDC_OK;
}

sdc_status sdc_prompt_to_chunks(const sdc_tokenizer *tok, const char *prompt, int pad_id,
                                int use_attention_syntax, sdc_token_chunk **chunks,
                                size_t *count)
{
    return sdc_prompt_to_chunks_embedded(tok, prompt, pad_id, use_attention_syntax, NULL,
                                         chunks, count);
}

sdc_status sdc_prompt_to_chunks_embedded(const sdc_tokenizer *tok, const char *prompt,
                                         int pad_id, int use_attention_syntax,
                                         const sdc_embedding_db *embeddings,
                                         sdc_token_chunk **chunks, size_t *count)
{
    *chunks = NULL;
    *count = 0;
    chunker *c = calloc(1, sizeof *c);
    if (!c)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for prompt chunks");
    c->last_comma = -1;
    c->bos = sdc_tokenizer_bos(tok);
    c->eos = sdc_tokenizer_eos(tok);
    c->pad = pad_id;
    c->comma = sdc_tokenizer_token_id(tok, ",</w>");
    c->embeddings = embeddings;
    sdc_status st = use_attention_syntax ? emphasis_chunks(tok, prompt, c)
                                         : plain_chunk(tok, prompt, c);
    if (st) {
        free(c->out);
    } else {
        *chunks = c->out;
        *count = c->count;
    }
    free(c);
    return st;
}
