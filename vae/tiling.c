/* Tiled VAE passes. Each axis is covered by equal tiles (tile cells, or the whole axis when it
 * fits) whose starts are spread evenly, so neighbours overlap by at least `overlap` cells.
 * A tile's weight is 1 in its interior and ramps linearly to 0 over `overlap` cells toward
 * every edge that is not an image edge; the weights of all tiles are normalised to sum to 1
 * at every position. Weights are separable (row weight x column weight), so normalising each
 * axis on its own normalises the product. Memory: one tile's pass plus its output. */
#include <math.h>
#include <string.h>

#include "ops/error.h"
#include "vae/vae_impl.h"

typedef struct tile_axis {
    int length; /* cells */
    int size;   /* cells per tile */
    int count;  /* tiles */
    int ramp;   /* cells over which neighbouring tiles cross-fade */
} tile_axis;

static tile_axis plan_axis(int length, int tile, int overlap)
{
    tile_axis a = {length, length, 1, overlap};
    if (length > tile) {
        a.size = tile;
        /* ceil((length - overlap) / (tile - overlap)): steps of at most tile - overlap */
        a.count = (length - overlap + tile - overlap - 1) / (tile - overlap);
    }
    return a;
}

static int tile_start(const tile_axis *a, int i)
{
    if (a->count == 1)
        return 0;
    long long span = a->length - a->size;
    return (int)((i * span + (a->count - 1) / 2) / (a->count - 1));
}

/* Weight of tile i at position x, both in units of 1/scale cell, before normalising. */
static float raw_weight(const tile_axis *a, int i, int scale, int x)
{
    int s = tile_start(a, i) * scale, e = s + a->size * scale;
    if (x < s || x >= e)
        return 0.0f;
    float ramp = (float)(a->ramp * scale), w = 1.0f;
    if (s > 0)
        w = fminf(w, ((float)(x - s) + 0.5f) / ramp);
    if (e < a->length * scale)
        w = fminf(w, ((float)(e - x) - 0.5f) / ramp);
    return w;
}

/* w [size * scale] = normalised weights of tile i over its extent. Only neighbours that reach
 * into the tile contribute to the sum. */
static void axis_weights(const tile_axis *a, int i, int scale, float *w)
{
    int s = tile_start(a, i), e = s + a->size;
    int first = i, last = i;
    while (first > 0 && tile_start(a, first - 1) + a->size > s)
        first--;
    while (last + 1 < a->count && tile_start(a, last + 1) < e)
        last++;
    for (int j = 0; j < a->size * scale; j++) {
        int x = s * scale + j;
        float sum = 0.0f;
        for (int k = first; k <= last; k++)
            sum += raw_weight(a, k, scale, x);
        w[j] = raw_weight(a, i, scale, x) / sum;
    }
}

/* out [B, C, H, W] at (y0, x0) += tile channels [c0, c0 + C) of tile [B, tile_c, th, tw]
 * times wy[row] * wx[column]. */
typedef struct blend {
    float *out;
    int C, H, W;
    const float *tile;
    int tile_c, c0, th, tw;
} blend;

static void blend_add(const blend *b, int B, int y0, int x0, const float *wy, const float *wx)
{
#pragma omp parallel for schedule(static) collapse(2)
    for (int bc = 0; bc < B * b->C; bc++)
        for (int i = 0; i < b->th; i++) {
            int n = bc / b->C, c = bc % b->C;
            const float *src = b->tile + (((size_t)n * b->tile_c + b->c0 + c) * b->th + i) * b->tw;
            float *dst = b->out + (((size_t)n * b->C + c) * b->H + y0 + i) * b->W + x0;
            for (int j = 0; j < b->tw; j++)
                dst[j] += src[j] * wy[i] * wx[j];
        }
}

sdc_status sdc_vae_decode_tiled(sdc_vae *vae, const float *latent, int B, int h, int w,
                                float *image)
{
    tile_axis ay = plan_axis(h, vae->tile, vae->overlap);
    tile_axis ax = plan_axis(w, vae->tile, vae->overlap);
    int f = vae->scale, C = vae->dec.out_channels, th = ay.size * f, tw = ax.size * f;
    sdc_vae_pass p = {&vae->arena, B};
    size_t mark = sdc_arena_mark(p.arena);
    float *tile = sdc_arena_floats(p.arena, (size_t)B * C * th * tw);
    float *wy = sdc_arena_floats(p.arena, (size_t)th);
    float *wx = sdc_arena_floats(p.arena, (size_t)tw);
    if (!tile || !wy || !wx)
        return sdc_vae_nomem(&p, mark, "tiled decode");
    memset(image, 0, (size_t)B * C * h * f * w * f * sizeof *image);
    blend out = {image, C, h * f, w * f, tile, C, 0, th, tw};
    sdc_status s = SDC_OK;
    for (int ty = 0; ty < ay.count && s == SDC_OK; ty++)
        for (int tx = 0; tx < ax.count && s == SDC_OK; tx++) {
            int y0 = tile_start(&ay, ty), x0 = tile_start(&ax, tx);
            s = sdc_vae_decode_window(vae, latent, B, h, w, y0, x0, ay.size, ax.size, tile);
            axis_weights(&ay, ty, f, wy);
            axis_weights(&ax, tx, f, wx);
            if (s == SDC_OK)
                blend_add(&out, B, y0 * f, x0 * f, wy, wx); // [B, C, th, tw] into the image
        }
    sdc_arena_release(p.arena, mark);
    return s;
}

sdc_status sdc_vae_encode_tiled(sdc_vae *vae, const float *image, int B, int H, int W,
                                float *mean, float *logvar)
{
    int f = vae->scale, zc = vae->z_channels, h = H / f, w = W / f;
    tile_axis ay = plan_axis(h, vae->tile, vae->overlap);
    tile_axis ax = plan_axis(w, vae->tile, vae->overlap);
    sdc_vae_pass p = {&vae->arena, B};
    size_t mark = sdc_arena_mark(p.arena), n = (size_t)B * zc * h * w;
    float *moments = sdc_arena_floats(p.arena, (size_t)B * 2 * zc * ay.size * ax.size);
    float *wy = sdc_arena_floats(p.arena, (size_t)ay.size);
    float *wx = sdc_arena_floats(p.arena, (size_t)ax.size);
    if (!moments || !wy || !wx)
        return sdc_vae_nomem(&p, mark, "tiled encode");
    memset(mean, 0, n * sizeof *mean);
    memset(logvar, 0, n * sizeof *logvar);
    blend to_mean = {mean, zc, h, w, moments, 2 * zc, 0, ay.size, ax.size};
    blend to_logvar = {logvar, zc, h, w, moments, 2 * zc, zc, ay.size, ax.size};
    sdc_status s = SDC_OK;
    for (int ty = 0; ty < ay.count && s == SDC_OK; ty++)
        for (int tx = 0; tx < ax.count && s == SDC_OK; tx++) {
            int y0 = tile_start(&ay, ty), x0 = tile_start(&ax, tx);
            s = sdc_vae_encode_window(vae, image, B, H, W, y0 * f, x0 * f, ay.size * f,
                                      ax.size * f, moments); // [B, 2 zc, size, size]
            axis_weights(&ay, ty, 1, wy);
            axis_weights(&ax, tx, 1, wx);
            if (s == SDC_OK) {
                blend_add(&to_mean, B, y0, x0, wy, wx);
                blend_add(&to_logvar, B, y0, x0, wy, wx);
            }
        }
    for (size_t i = 0; i < n && s == SDC_OK; i++)
        logvar[i] = fminf(fmaxf(logvar[i], SDC_VAE_LOGVAR_MIN), SDC_VAE_LOGVAR_MAX);
    sdc_arena_release(p.arena, mark);
    return s;
}
