/* Tiled VAE passes: the plan (vae/tile_plan.h) cuts the latent into overlapping tiles, each
 * tile runs through the network on its own and its output is added to the result times its
 * blend weights. Memory: one tile's pass plus its output, whatever the image size. */
#include <math.h>
#include <string.h>

#include "ops/error.h"
#include "vae/tile_plan.h"
#include "vae/vae_impl.h"

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
    sdc_vae_tile_axis ay = sdc_vae_tile_plan(h, vae->tile, vae->overlap);
    sdc_vae_tile_axis ax = sdc_vae_tile_plan(w, vae->tile, vae->overlap);
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
            int y0 = sdc_vae_tile_start(&ay, ty), x0 = sdc_vae_tile_start(&ax, tx);
            s = sdc_vae_decode_window(vae, latent, B, h, w, y0, x0, ay.size, ax.size, tile);
            if (s != SDC_OK)
                break;
            sdc_vae_tile_weights(&ay, ty, f, wy);
            sdc_vae_tile_weights(&ax, tx, f, wx);
            blend_add(&out, B, y0 * f, x0 * f, wy, wx); // [B, C, th, tw] into the image
        }
    sdc_arena_release(p.arena, mark);
    return s;
}

sdc_status sdc_vae_encode_tiled(sdc_vae *vae, const float *image, int B, int H, int W,
                                float *mean, float *logvar)
{
    int f = vae->scale, zc = vae->z_channels, h = H / f, w = W / f;
    sdc_vae_tile_axis ay = sdc_vae_tile_plan(h, vae->tile, vae->overlap);
    sdc_vae_tile_axis ax = sdc_vae_tile_plan(w, vae->tile, vae->overlap);
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
            int y0 = sdc_vae_tile_start(&ay, ty), x0 = sdc_vae_tile_start(&ax, tx);
            s = sdc_vae_encode_window(vae, image, B, H, W, y0 * f, x0 * f, ay.size * f,
                                      ax.size * f, moments); // [B, 2 zc, size, size]
            if (s != SDC_OK)
                break;
            sdc_vae_tile_weights(&ay, ty, 1, wy);
            sdc_vae_tile_weights(&ax, tx, 1, wx);
            blend_add(&to_mean, B, y0, x0, wy, wx);
            blend_add(&to_logvar, B, y0, x0, wy, wx);
        }
    for (size_t i = 0; i < n && s == SDC_OK; i++)
        logvar[i] = fminf(fmaxf(logvar[i], SDC_VAE_LOGVAR_MIN), SDC_VAE_LOGVAR_MAX);
    sdc_arena_release(p.arena, mark);
    return s;
}
