#include "clip/conditioning.h"

#include <stdlib.h>
#include <string.h>

#include "clip/prompt_chunks.h"
#include "ops/error.h"

/* One encoded prompt. */
typedef struct cache_entry {
    char *prompt;   /* NULL when the slot is free */
    float *context; /* [1, tokens, W] */
    int tokens;     /* 77 k */
} cache_entry;

struct sdc_conditioner {
    const sdc_tokenizer *tok; /* borrowed */
    sdc_text_encoder *te;     /* borrowed */
    sdc_conditioning_params params;
    int layer;                /* hidden states taken after this many layers */
    cache_entry cache[SDC_CONDITIONING_CACHE];
    int next_slot;            /* replaced next (oldest first) */
};

sdc_status sdc_conditioner_create(const sdc_tokenizer *tok, sdc_text_encoder *te,
                                  const sdc_conditioning_params *params, sdc_conditioner **out)
{
    *out = NULL;
    int layer;
    sdc_status s = sdc_text_encoder_skip_layer(te, params->clip_skip, &layer);
    if (s != SDC_OK)
        return s;
    if (params->pad_id < 0 || params->pad_id >= sdc_text_encoder_vocab(te))
        return sdc_fail(SDC_ERR_ARG, "conditioning: pad token %d is outside the vocabulary of %d",
                        params->pad_id, sdc_text_encoder_vocab(te));
    sdc_conditioner *c = calloc(1, sizeof *c);
    if (!c)
        return sdc_fail(SDC_ERR_NOMEM, "conditioning: out of memory");
    c->tok = tok;
    c->te = te;
    c->params = *params;
    c->layer = layer;
    *out = c;
    return SDC_OK;
}

static void entry_clear(cache_entry *e)
{
    free(e->prompt);
    free(e->context);
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

/* context [count, P, W] of the chunks, weighted in emphasis mode. */
static sdc_status encode_chunks(sdc_conditioner *c, const sdc_token_chunk *chunks, int count,
                                float *context)
{
    int P = sdc_text_encoder_positions(c->te), W = sdc_text_encoder_width(c->te);
    int32_t *ids = malloc((size_t)count * P * sizeof *ids);
    if (!ids)
        return sdc_fail(SDC_ERR_NOMEM, "conditioning: out of memory for %d chunks", count);
    for (int k = 0; k < count; k++)
        memcpy(ids + (size_t)k * P, chunks[k].ids, (size_t)P * sizeof *ids);
    sdc_text_request req = {.layer = c->layer, .final_norm = 1, .hidden = context};
    // one row of 77 k tokens: the encoder runs each 77-token chunk as its own sequence
    sdc_status s = sdc_text_encoder_forward(c->te, ids, 1, count * P, &req, 1);
    free(ids);
    if (s == SDC_OK && c->params.emphasis)
        for (int k = 0; k < count; k++)
            apply_emphasis(context + (size_t)k * P * W, chunks[k].weights, P, W);
    return s;
}

/* Tokenizes and encodes `prompt` into a new cache entry *e (its slot already cleared). */
static sdc_status encode_prompt(sdc_conditioner *c, const char *prompt, cache_entry *e)
{
    int P = sdc_text_encoder_positions(c->te), W = sdc_text_encoder_width(c->te);
    if (P != SDC_CLIP_CONTEXT)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "conditioning: the text encoder has %d positions, "
                        "the tokenizer makes %d", P, SDC_CLIP_CONTEXT);
    sdc_token_chunk *chunks = NULL;
    size_t count = 0;
    sdc_status s = sdc_prompt_to_chunks(c->tok, prompt, c->params.pad_id, c->params.emphasis,
                                        &chunks, &count);
    if (s != SDC_OK)
        return s;
    if (count > (size_t)(INT32_MAX / P / W)) {
        free(chunks);
        return sdc_fail(SDC_ERR_ARG, "conditioning: prompt of %zu chunks is too long", count);
    }
    e->tokens = (int)count * P;
    e->context = malloc((size_t)e->tokens * W * sizeof *e->context);
    e->prompt = strdup(prompt);
    if (!e->context || !e->prompt)
        s = sdc_fail(SDC_ERR_NOMEM, "conditioning: out of memory for %zu chunks", count);
    else
        s = encode_chunks(c, chunks, (int)count, e->context);
    free(chunks);
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
    size_t n = (size_t)e->tokens * sdc_text_encoder_width(c->te);
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
    int P = sdc_text_encoder_positions(c->te);
    size_t row = (size_t)sdc_text_encoder_width(c->te);
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
    if (s == SDC_OK && n_pos != n_neg && n_pad != sdc_text_encoder_positions(c->te))
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
