#include "vae/attention.h"

#include <math.h>
#include <string.h>

#include "ops/gemm.h"
#include "ops/nn.h"

/* Scores are computed for a tile of queries at a time: about this many floats, so a 2048x2048
 * decode (65536 tokens) never holds the full T x T matrix. */
enum { SCORE_TILE_FLOATS = 1 << 22, MIN_QUERY_TILE = 16 };

sdc_status sdc_vae_attention_load(sdc_vae_attention *a, const sdc_layer_source *src,
                                  const char *prefix, int c)
{
    memset(a, 0, sizeof *a);
    a->c = c;
    sdc_status s = sdc_vae_norm_load(src, prefix, "norm", c, &a->norm);
    const char *names[] = {"q", "k", "v", "proj_out"};
    sdc_layer *layers[] = {&a->q, &a->k, &a->v, &a->proj_out};
    for (int i = 0; i < 4 && s == SDC_OK; i++) {
        s = sdc_layer_load(src, prefix, names[i], c, 1, 1, layers[i]);
        if (s == SDC_OK)
            s = sdc_layer_check_out(src, prefix, names[i], layers[i], c);
    }
    if (s != SDC_OK)
        sdc_vae_attention_free(a);
    return s;
}

void sdc_vae_attention_free(sdc_vae_attention *a)
{
    sdc_norm_free(&a->norm);
    sdc_layer_free(&a->q);
    sdc_layer_free(&a->k);
    sdc_layer_free(&a->v);
    sdc_layer_free(&a->proj_out);
}

/* o [C, T] = v [C, T] softmax(scale q^T k)^T for one image, channel-major throughout so no
 * transposes are needed; `scores` holds [rows, T]. */
static void attend(float *o, const float *q, const float *k, const float *v, int C, int T,
                   float *scores, int rows)
{
    float scale = 1.0f / sqrtf((float)C);
    for (int i0 = 0; i0 < T; i0 += rows) {
        int r = T - i0 < rows ? T - i0 : rows;
        /* scores [r, T] = scale * q[:, i0:i0+r]^T k */
        sdc_sgemm(1, 0, r, T, C, scale, q + i0, T, k, T, 0.0f, scores, T);
        sdc_softmax_rows(scores, r, T);
        /* o[:, i0:i0+r] [C, r] = v [C, T] scores^T [T, r] */
        sdc_sgemm(0, 1, C, r, T, 1.0f, v, T, scores, T, 0.0f, o + i0, T);
    }
}

sdc_status sdc_vae_attention_forward(const sdc_vae_attention *a, const sdc_vae_pass *p, float *x,
                                     int H, int W)
{
    int B = p->B, C = a->c, T = H * W;
    int rows = SCORE_TILE_FLOATS / T;
    rows = rows < MIN_QUERY_TILE ? MIN_QUERY_TILE : rows > T ? T : rows;
    size_t n = (size_t)B * C * T, mark = sdc_arena_mark(p->arena);
    float *h = sdc_arena_floats(p->arena, n);
    float *q = sdc_arena_floats(p->arena, n);
    float *k = sdc_arena_floats(p->arena, n);
    float *v = sdc_arena_floats(p->arena, n);
    float *scores = sdc_arena_floats(p->arena, (size_t)rows * T);
    if (!h || !q || !k || !v || !scores)
        return sdc_vae_nomem(p, mark, "attention");
    sdc_vae_group_norm(p, h, x, C, T, &a->norm, 0); // [B, C, T]
    sdc_status s = sdc_vae_conv(&a->q, p, q, h, H, W, 1, 0);
    if (s == SDC_OK)
        s = sdc_vae_conv(&a->k, p, k, h, H, W, 1, 0);
    if (s == SDC_OK)
        s = sdc_vae_conv(&a->v, p, v, h, H, W, 1, 0);
    if (s == SDC_OK) {
        size_t img = (size_t)C * T;
        for (int b = 0; b < B; b++) // h [B, C, T] = attention output
            attend(h + b * img, q + b * img, k + b * img, v + b * img, C, T, scores, rows);
        s = sdc_vae_conv(&a->proj_out, p, q, h, H, W, 1, 0); // [B, C, T]
    }
    if (s == SDC_OK)
        sdc_add(x, x, q, n);
    sdc_arena_release(p->arena, mark);
    return s;
}
