/* torchsde 0.2.6's BrownianTree and numpy's SeedSequence (see scheduler/brownian.h). */
#include "scheduler/brownian.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"

/* ---- numpy.random.SeedSequence (O'Neill's seed_seq with numpy's constants) ---- */

#define POOL_SIZE 24 /* torchsde's BrownianTree default */
#define INIT_A 0x43b0d7e5u
#define MULT_A 0x931e8875u
#define INIT_B 0x8b51f9ddu
#define MULT_B 0x58f38dedu
#define MIX_MULT_L 0xca01f9ddu
#define MIX_MULT_R 0x4973f715u
#define XSHIFT 16
/* entropy (padded to the pool) plus two 64-bit spawn-key entries, at most */
#define MAX_WORDS (POOL_SIZE + 2 * 2 * 2)

static uint32_t hashmix(uint32_t value, uint32_t *hash_const)
{
    value ^= *hash_const;
    *hash_const *= MULT_A;
    value *= *hash_const;
    value ^= value >> XSHIFT;
    return value;
}

static uint32_t mix(uint32_t x, uint32_t y)
{
    uint32_t result = MIX_MULT_L * x - MIX_MULT_R * y;
    return result ^ (result >> XSHIFT);
}

/* A non-negative integer as uint32 words, lowest first (0 is one word). */
static int int_words(uint64_t v, uint32_t *out)
{
    out[0] = (uint32_t)v;
    if (v >> 32 == 0)
        return 1;
    out[1] = (uint32_t)(v >> 32);
    return 2;
}

/* get_assembled_entropy: with a spawn key, the entropy is padded with zeros to the pool. */
static int assemble(uint64_t entropy, const uint64_t *key, int n_key, uint32_t *words)
{
    int n = int_words(entropy, words);
    if (n_key > 0)
        while (n < POOL_SIZE)
            words[n++] = 0;
    for (int i = 0; i < n_key; i++)
        n += int_words(key[i], words + n);
    return n;
}

static void mix_entropy(uint32_t *pool, const uint32_t *words, int n)
{
    uint32_t hash_const = INIT_A;
    for (int i = 0; i < POOL_SIZE; i++)
        pool[i] = hashmix(i < n ? words[i] : 0, &hash_const);
    for (int src = 0; src < POOL_SIZE; src++)
        for (int dst = 0; dst < POOL_SIZE; dst++)
            if (src != dst)
                pool[dst] = mix(pool[dst], hashmix(pool[src], &hash_const));
    for (int src = POOL_SIZE; src < n; src++)
        for (int dst = 0; dst < POOL_SIZE; dst++)
            pool[dst] = mix(pool[dst], hashmix(words[src], &hash_const));
}

void sdc_seed_sequence_state(uint64_t entropy, const uint64_t *spawn_key, int n_spawn,
                             uint32_t *out, int n_words)
{
    uint32_t words[MAX_WORDS], pool[POOL_SIZE];
    if (n_spawn > 2)
        n_spawn = 2; /* torchsde's keys are (key, depth) */
    int n = assemble(entropy, spawn_key, n_spawn, words);
    mix_entropy(pool, words, n);
    uint32_t hash_const = INIT_B;
    for (int i = 0; i < n_words; i++) {
        uint32_t v = pool[i % POOL_SIZE];
        v ^= hash_const;
        hash_const *= MULT_B;
        v *= hash_const;
        v ^= v >> XSHIFT;
        out[i] = v;
    }
}

/* ---- the tree ---- */

/* Path levels beyond the halvings from t1 - t0 down to the 1e-6 grid (the rounded midpoints
 * make some halves a grid step longer). */
#define SPARE_LEVELS 4

struct sdc_brownian {
    sdc_rng_type type;
    uint64_t entropy;
    double start, end; /* the root, rounded */
    size_t n;
    int levels;        /* deepest node below the root */
    float *root;       /* [n] increment over [start, end] */
    float *noise;      /* [n] a node's normal draw */
    float *path;       /* [levels, n] increments of the nodes on the current path */
};

typedef struct node {
    double start, end;
    uint64_t key;
    int depth;
} node;

/* Python's round(x, 6): the correctly rounded 6-decimal value read back as a double. */
static double round6(double x)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.6f", x);
    return strtod(buf, NULL);
}

/* torch.randn(n, generator=Generator().manual_seed(seed)) of the tree's generator kind. */
static void node_randn(const sdc_brownian *b, uint32_t seed, float *out)
{
    sdc_rng g;
    sdc_rng_init(&g, b->type, seed);
    sdc_rng_randn(&g, out, b->n);
}

sdc_status sdc_brownian_create(sdc_rng_type type, uint64_t entropy, double t0, double t1,
                               size_t n, sdc_brownian **out)
{
    *out = NULL;
    if (!(t0 >= 0 && t0 <= t1 && t1 < 1e9) || n == 0)
        return sdc_fail(SDC_ERR_ARG, "Brownian tree: interval [%g, %g] or size %zu out of "
                        "range", t0, t1, n);
    sdc_brownian *b = calloc(1, sizeof *b);
    if (!b)
        return sdc_fail(SDC_ERR_NOMEM, "Brownian tree: out of memory");
    b->type = type;
    b->entropy = entropy;
    b->start = round6(t0);
    b->end = round6(t1);
    b->n = n;
    b->levels = (int)ceil(log2((b->end - b->start) * 1e6 + 1.0)) + SPARE_LEVELS;
    b->root = malloc(n * sizeof *b->root);
    b->noise = malloc(n * sizeof *b->noise);
    b->path = malloc((size_t)b->levels * n * sizeof *b->path);
    if (!b->root || !b->noise || !b->path) {
        sdc_brownian_free(b);
        return sdc_fail(SDC_ERR_NOMEM, "Brownian tree: out of memory for %zu floats", n);
    }
    uint32_t seed;
    sdc_seed_sequence_state(entropy, NULL, 0, &seed, 1);
    node_randn(b, seed, b->root);
    float scale = (float)sqrt(t1 - t0); /* the unrounded ends */
    for (size_t i = 0; i < n; i++)
        b->root[i] *= scale;
    *out = b;
    return SDC_OK;
}

void sdc_brownian_free(sdc_brownian *b)
{
    if (!b)
        return;
    free(b->root);
    free(b->noise);
    free(b->path);
    free(b);
}

/* The left child's increment of node nd (increment w) split at mid: the Brownian bridge
 * with torch's float32 tensor arithmetic (Python scalars rounded to float). */
static void left_increment(sdc_brownian *b, const node *nd, double mid, const float *w,
                           float *left)
{
    uint64_t key[2] = {nd->key, (uint64_t)nd->depth};
    uint32_t seed;
    sdc_seed_sequence_state(b->entropy, key, 2, &seed, 1);
    node_randn(b, seed, b->noise);
    double h_rec = 1.0 / (nd->end - nd->start);
    double left_diff = mid - nd->start, right_diff = nd->end - mid;
    float ld = (float)left_diff, hr = (float)h_rec;
    float sd = (float)sqrt(left_diff * right_diff * h_rec);
    for (size_t i = 0; i < b->n; i++) {
        float mean = ld * w[i] * hr;
        left[i] = mean + sd * b->noise[i];
    }
}

static void accumulate(const sdc_brownian *b, const float *w, float *out, int *filled)
{
    if (!*filled)
        memcpy(out, w, b->n * sizeof *out);
    else
        for (size_t i = 0; i < b->n; i++)
            out[i] += w[i];
    *filled = 1;
}

/* Adds the increments of the nodes tiling [ta, tb] inside node nd (increment w, at depth
 * `level` of the path buffers) to out, left to right. */
static void descend(sdc_brownian *b, node nd, int level, const float *w, double ta, double tb,
                    float *out, int *filled)
{
    if (ta == nd.start && tb == nd.end) {
        accumulate(b, w, out, filled);
        return;
    }
    if (level >= b->levels)
        return; /* unreachable: a node of two grid steps splits into two of one */
    double mid = round6(0.5 * (nd.end + nd.start));
    float *child = b->path + (size_t)level * b->n;
    node left = {nd.start, mid, 2 * nd.key, nd.depth + 1};
    node right = {mid, nd.end, 2 * nd.key + 1, nd.depth + 1};
    left_increment(b, &nd, mid, w, child);
    if (tb <= mid) {
        descend(b, left, level + 1, child, ta, tb, out, filled);
        return;
    }
    if (ta < mid) /* the query straddles the split: the left part first */
        descend(b, left, level + 1, child, ta, mid, out, filled);
    for (size_t i = 0; i < b->n; i++) /* deeper levels left `child` as it was */
        child[i] = w[i] - child[i];
    descend(b, right, level + 1, child, ta < mid ? mid : ta, tb, out, filled);
}

static double clamp(double t, double lo, double hi)
{
    return t < lo ? lo : t > hi ? hi : t;
}

void sdc_brownian_increment(sdc_brownian *b, double ta, double tb, float *out)
{
    ta = clamp(ta, b->start, b->end);
    tb = clamp(tb, b->start, b->end);
    double ra = round6(ta), rb = round6(tb);
    if (!(ta < tb) || !(ra < rb)) {
        memset(out, 0, b->n * sizeof *out);
        return;
    }
    node root = {b->start, b->end, 0, 0};
    int filled = 0;
    descend(b, root, 0, b->root, ra, rb, out, &filled);
}

void sdc_brownian_noise(sdc_brownian *b, float sigma, float sigma_next, float *out)
{
    int ascending = sigma < sigma_next;
    float lo = ascending ? sigma : sigma_next, hi = ascending ? sigma_next : sigma;
    sdc_brownian_increment(b, lo, hi, out);
    float scale = sqrtf(fabsf(sigma_next - sigma));
    for (size_t i = 0; i < b->n; i++)
        out[i] = (ascending ? out[i] : -out[i]) / scale;
}
