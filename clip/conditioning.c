#include "clip/conditioning.h"

#include <stdlib.h>
#include <string.h>

#include "clip/prompt_chunks.h"
#include "ops/error.h"

/* One encoded prompt. */
typedef struct cache_entry {
    char *prompt;   /* NULL when the slot is free */
    float *context; /* [1, tokens, width] */
    int tokens;     /* 77 k */
    float *pooled;  /* [pooled_dim], NULL without a pooled component */
} cache_entry;

struct sdc_conditioner {
    int count;                                             /* encoders */
    sdc_text_component enc[SDC_CONDITIONER_MAX_ENCODERS];  /* borrowed encoders and rules */
    int layer[SDC_CONDITIONER_MAX_ENCODERS];  /* hidden states taken after this many layers */
    int offset[SDC_CONDITIONER_MAX_ENCODERS]; /* first context column of each encoder */
    int width;                                /* context row width: the widths summed */
    int positions;                            /* P, tokens per chunk (77) */
    int pooled_dim;                           /* 0 without a pooled component */
    sdc_conditioning_params params;
    cache_entry cache[SDC_CONDITIONING_CACHE];
    int next_slot;                            /* replaced next (oldest first) */
};

/* Checks component k and records its layer, columns and pooled width in c. */
static sdc_status add_component(sdc_conditioner *c, int k)
{
    const sdc_text_component *e = &c->enc[k];
    if (!e->te)
        return sdc_fail(SDC_ERR_ARG, "conditioning: text encoder %d is missing", k + 1);
    sdc_status s = sdc_text_encoder_skip_layer(e->te, c->params.clip_skip, &c->layer[k]);
    if (s != SDC_OK)
        return s;
    if (e->pad_id < 0 || e->pad_id >= sdc_text_encoder_vocab(e->te))
        return sdc_fail(SDC_ERR_ARG, "conditioning: pad token %d is outside the vocabulary of %d",
                        e->pad_id, sdc_text_encoder_vocab(e->te));
    int P = sdc_text_encoder_positions(e->te);
    if (k > 0 && P != c->positions)
        return sdc_fail(SDC_ERR_ARG, "conditioning: text encoders of %d and %d positions",
                        c->positions, P);
    if (e->pooled && c->pooled_dim)
        return sdc_fail(SDC_ERR_ARG, "conditioning: two text encoders give the pooled vector");
    c->positions = P;
    c->offset[k] = c->width;
    c->width += sdc_text_encoder_width(e->te);
    if (e->pooled)
        c->pooled_dim = sdc_text_encoder_pooled_dim(e->te);
    return SDC_OK;
}

sdc_status sdc_conditioner_create(const sdc_text_component *encoders, int count,
                                  const sdc_conditioning_params *params, sdc_conditioner **out)
{
    *out = NULL;
    if (count < 1 || count > SDC_CONDITIONER_MAX_ENCODERS)
        return sdc_fail(SDC_ERR_ARG, "conditioning: %d text encoders (1..%d)", count,
                        SDC_CONDITIONER_MAX_ENCODERS);
    sdc_conditioner *c = calloc(1, sizeof *c);
    if (!c)
        return sdc_fail(SDC_ERR_NOMEM, "conditioning: out of memory");
    c->count = count;
    c->params = *params;
    memcpy(c->enc, encoders, (size_t)count * sizeof *encoders);
    sdc_status s = SDC_OK;
    for (int k = 0; k < count && s == SDC_OK; k++)
        s = add_component(c, k);
    if (s != SDC_OK) {
        free(c);
        return s;
    }
    *out = c;
    return SDC_OK;
}

int sdc_conditioner_width(const sdc_conditioner *c) { return c->width; }
int sdc_conditioner_pooled_dim(const sdc_conditioner *c) { return c->pooled_dim; }

static void entry_clear(cache_entry *e)
{
    free(e->prompt);
    free(e->context);
    free(e->pooled);
    memset(e, 0, sizeof *e);
}

void sdc_conditioner_free(sdc_conditioner *c)
{
    if (!c)
        return;
    for (int i = 0; i < SDC_CONDITIONING_CACHE; i++)
        entry_clear(&c->cache[i]);
    free(c);
}

/* AUTOMATIC1111's "Original" emphasis on one chunk z [P, W]: rows times their weights, then
 * the whole chunk rescaled to its unweighted mean. */
static void apply_emphasis(float *z, const float *weights, int P, int W)
{
    int weighted = 0;
    for (int p = 0; p < P; p++)
        weighted |= weights[p] != 1.0f;
    if (!weighted) // z * 1 rescaled by mean / mean is z itself
        return;
    size_t n = (size_t)P * W;
    double before = 0, after = 0;
    for (size_t i = 0; i < n; i++)
        before += z[i];
    for (int p = 0; p < P; p++)
        for (int i = 0; i < W; i++) {
            float *zi = &z[(size_t)p * W + i];
            *zi *= weights[p];
            after += *zi;
        }
    float scale = (float)((before / (double)n) / (after / (double)n));
    for (size_t i = 0; i < n; i++)
        z[i] *= scale;
}

/* out [count, P, W] of encoder k for the chunks, weighted in emphasis mode; pooled [W] (or
 * NULL) its first chunk's EOS row after the last layer and final_layer_norm. */
static sdc_status encode_chunks(sdc_conditioner *c, int k, const sdc_token_chunk *chunks,
                                int count, float *out, float *pooled)
{
    const sdc_text_component *e = &c->enc[k];
    int P = c->positions, W = sdc_text_encoder_width(e->te);
    int32_t *ids = malloc((size_t)count * P * sizeof *ids);
    int PW = sdc_text_encoder_pooled_dim(e->te);
    float *rows = pooled ? malloc((size_t)count * PW * sizeof *rows) : NULL;
    if (!ids || (pooled && !rows)) {
        free(ids);
        free(rows);
        return sdc_fail(SDC_ERR_NOMEM, "conditioning: out of memory for %d chunks", count);
    }
    const float **vectors = e->embeddings ? malloc((size_t)count * P * sizeof *vectors) : NULL;
    if (e->embeddings && !vectors) {
        free(ids);
        free(rows);
        return sdc_fail(SDC_ERR_NOMEM, "conditioning: out of memory for %d chunks", count);
    }
    for (int i = 0; i < count; i++) {
        memcpy(ids + (size_t)i * P, chunks[i].ids, (size_t)P * sizeof *ids);
        if (vectors)
            memcpy(vectors + (size_t)i * P, chunks[i].vectors, (size_t)P * sizeof *vectors);
    }
    sdc_text_request req[2] = {
        {.layer = c->layer[k], .final_norm = e->final_norm, .hidden = out},
        {.layer = sdc_text_encoder_layers(e->te), .final_norm = 1, .pooled = rows},
    };
    // one row of 77 k tokens: the encoder runs each 77-token chunk as its own sequence
    sdc_status s = sdc_text_encoder_forward_rows(e->te, ids, (const float *const *)vectors, 1,
                                                 count * P, req, pooled ? 2 : 1);
    free(ids);
    free(vectors);
    if (s == SDC_OK && pooled)
        memcpy(pooled, rows, (size_t)PW * sizeof *pooled);
    free(rows);
    if (s == SDC_OK && c->params.emphasis)
        for (int i = 0; i < count; i++)
            apply_emphasis(out + (size_t)i * P * W, chunks[i].weights, P, W);
    return s;
}

/* Encoder k's part of entry e: its chunks of the prompt, encoded into its context columns. */
static sdc_status encode_part(sdc_conditioner *c, int k, const char *prompt, cache_entry *e)
{
    const sdc_text_component *enc = &c->enc[k];
    int P = c->positions, W = sdc_text_encoder_width(enc->te);
    sdc_token_chunk *chunks = NULL;
    size_t count = 0;
    sdc_status s = sdc_prompt_to_chunks_embedded(enc->tok, prompt, enc->pad_id,
                                                 c->params.emphasis, enc->embeddings, &chunks,
                                                 &count);
    if (s != SDC_OK)
        return s;
    if (count > (size_t)(INT32_MAX / P / c->width))
        s = sdc_fail(SDC_ERR_ARG, "conditioning: prompt of %zu chunks is too long", count);
    else if (k > 0 && (int)count * P != e->tokens)
        s = sdc_fail(SDC_ERR_ARG, "conditioning: the text encoders' tokenizers split the prompt "
                     "into %d and %zu chunks", e->tokens / P, count);
    if (s == SDC_OK && k == 0) {
        e->tokens = (int)count * P;
        e->context = malloc((size_t)e->tokens * c->width * sizeof *e->context);
        if (!e->context)
            s = sdc_fail(SDC_ERR_NOMEM, "conditioning: out of memory for %zu chunks", count);
    }
    /* a single encoder writes the context itself; several each fill their columns */
    float *part = c->count == 1 ? e->context : malloc((size_t)e->tokens * W * sizeof *part);
    if (s == SDC_OK && !part)
        s = sdc_fail(SDC_ERR_NOMEM, "conditioning: out of memory for %zu chunks", count);
    if (s == SDC_OK)
        s = encode_chunks(c, k, chunks, (int)count, part, enc->pooled ? e->pooled : NULL);
    for (int t = 0; s == SDC_OK && part != e->context && t < e->tokens; t++)
        memcpy(e->context + (size_t)t * c->width + c->offset[k], part + (size_t)t * W,
               (size_t)W * sizeof *part);
    if (part != e->context)
        free(part);
    free(chunks);
    return s;
}

/* Tokenizes and encodes `prompt` into a new cache entry *e (its slot already cleared). */
static sdc_status encode_prompt(sdc_conditioner *c, const char *prompt, cache_entry *e)
{
    if (c->positions != SDC_CLIP_CONTEXT)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "conditioning: the text encoder has %d positions, "
                        "the tokenizer makes %d", c->positions, SDC_CLIP_CONTEXT);
    sdc_status s = SDC_OK;
    e->prompt = strdup(prompt);
    if (c->pooled_dim)
        e->pooled = malloc((size_t)c->pooled_dim * sizeof *e->pooled);
    if (!e->prompt || (c->pooled_dim && !e->pooled))
        s = sdc_fail(SDC_ERR_NOMEM, "conditioning: out of memory");
    for (int k = 0; k < c->count && s == SDC_OK; k++)
        s = encode_part(c, k, prompt, e);
    if (s != SDC_OK)
        entry_clear(e);
    return s;
}

/* The cache entry of `prompt`, encoding it into the oldest slot when absent. */
static sdc_status lookup(sdc_conditioner *c, const char *prompt, const cache_entry **out)
{
    for (int i = 0; i < SDC_CONDITIONING_CACHE; i++)
        if (c->cache[i].prompt && strcmp(c->cache[i].prompt, prompt) == 0) {
            *out = &c->cache[i];
            return SDC_OK;
        }
    cache_entry *e = &c->cache[c->next_slot];
    entry_clear(e);
    sdc_status s = encode_prompt(c, prompt, e);
    if (s != SDC_OK)
        return s;
    c->next_slot = (c->next_slot + 1) % SDC_CONDITIONING_CACHE;
    *out = e;
    return SDC_OK;
}

sdc_status sdc_conditioner_encode(sdc_conditioner *c, const char *prompt, float **context,
                                  int *tokens)
{
    *context = NULL;
    *tokens = 0;
    const cache_entry *e;
    sdc_status s = lookup(c, prompt, &e);
    if (s != SDC_OK)
        return s;
    size_t n = (size_t)e->tokens * c->width;
    if (!(*context = malloc(n * sizeof **context)))
        return sdc_fail(SDC_ERR_NOMEM, "conditioning: out of memory for %d tokens", e->tokens);
    memcpy(*context, e->context, n * sizeof **context);
    *tokens = e->tokens;
    return SDC_OK;
}

/* Grows *context [1, have, W] to [1, want, W] with copies of the chunk pad [1, 77, W]. */
static sdc_status pad_to(const sdc_conditioner *c, float **context, int have, const float *pad,
                         int want)
{
    if (have == want)
        return SDC_OK;
    int P = c->positions;
    size_t row = (size_t)c->width;
    float *grown = realloc(*context, (size_t)want * row * sizeof *grown);
    if (!grown)
        return sdc_fail(SDC_ERR_NOMEM, "conditioning: out of memory for %d tokens", want);
    for (int t = have; t < want; t += P)
        memcpy(grown + (size_t)t * row, pad, (size_t)P * row * sizeof *grown);
    *context = grown;
    return SDC_OK;
}

sdc_status sdc_conditioner_encode_pair(sdc_conditioner *c, const char *prompt,
                                       const char *negative, float **cond, float **uncond,
                                       int *tokens)
{
    *cond = *uncond = NULL;
    *tokens = 0;
    float *pad = NULL;
    int n_pos = 0, n_neg = 0, n_pad = 0;
    sdc_status s = sdc_conditioner_encode(c, prompt, cond, &n_pos);
    if (s == SDC_OK)
        s = sdc_conditioner_encode(c, negative, uncond, &n_neg);
    if (s == SDC_OK && n_pos != n_neg)
        s = sdc_conditioner_encode(c, "", &pad, &n_pad);
    if (s == SDC_OK && n_pos != n_neg && n_pad != c->positions)
        s = sdc_fail(SDC_ERR_ARG, "conditioning: the empty prompt gave %d tokens", n_pad);
    int n = n_pos > n_neg ? n_pos : n_neg;
    if (s == SDC_OK)
        s = pad_to(c, cond, n_pos, pad, n);
    if (s == SDC_OK)
        s = pad_to(c, uncond, n_neg, pad, n);
    free(pad);
    if (s != SDC_OK) {
        free(*cond);
        free(*uncond);
        *cond = *uncond = NULL;
        return s;
    }
    *tokens = n;
    return SDC_OK;
}

sdc_status sdc_conditioner_pad(sdc_conditioner *c, float **context, int have, int want)
{
    if (have == want)
        return SDC_OK;
    if (have > want || have % c->positions || want % c->positions)
        return sdc_fail(SDC_ERR_ARG, "conditioning: cannot pad %d tokens to %d", have, want);
    const cache_entry *e;
    sdc_status s = lookup(c, "", &e);
    if (s == SDC_OK && e->tokens != c->positions)
        s = sdc_fail(SDC_ERR_ARG, "conditioning: the empty prompt gave %d tokens", e->tokens);
    return s == SDC_OK ? pad_to(c, context, have, e->context, want) : s;
}

sdc_status sdc_conditioner_pooled(sdc_conditioner *c, const char *prompt, float *pooled)
{
    if (!c->pooled_dim)
        return sdc_fail(SDC_ERR_ARG, "conditioning: no text encoder gives a pooled vector");
    const cache_entry *e;
    sdc_status s = lookup(c, prompt, &e);
    if (s == SDC_OK)
        memcpy(pooled, e->pooled, (size_t)c->pooled_dim * sizeof *pooled);
    return s;
}
