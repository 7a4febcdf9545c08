#include "pipeline/unet_tiles.h"

#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "vae/tile_plan.h"

/* dst [B, C, th, tw] = window (y0, x0) of src [B, C, h, w] */
static void crop(float *dst, const float *src, int B, int C, int h, int w, int y0, int x0,
                 int th, int tw)
{
    for (int bc = 0; bc < B * C; bc++)
        for (int i = 0; i < th; i++)
            memcpy(dst + ((size_t)bc * th + i) * tw, src + ((size_t)bc * h + y0 + i) * w + x0,
                   (size_t)tw * sizeof *dst);
}

/* out [B, C, h, w] at (y0, x0) += win [B, C, th, tw] * wy[row] * wx[column] */
static void add_weighted(float *out, const float *win, int B, int C, int h, int w, int y0,
                         int x0, int th, int tw, const float *wy, const float *wx)
{
    for (int bc = 0; bc < B * C; bc++)
        for (int i = 0; i < th; i++) {
            float *o = out + ((size_t)bc * h + y0 + i) * w + x0;
            const float *s = win + ((size_t)bc * th + i) * tw;
            for (int j = 0; j < tw; j++)
                o[j] += s[j] * wy[i] * wx[j];
        }
}

typedef struct windows {
    sdc_vae_tile_axis ay, ax;
    float *x, *extra, *out, *wy, *wx; /* one window's inputs, output and weights */
} windows;

static sdc_status run_windows(sdc_unet *u, const float *x, int B, int h, int w, float t,
                              const sdc_unet_cond *cond, windows *win, float *out)
{
    int ce = cond->extra ? cond->extra_channels : 0;
    int cx = sdc_unet_in_channels(u) - ce, co = sdc_unet_out_channels(u);
    int th = win->ay.size, tw = win->ax.size;
    memset(out, 0, (size_t)B * co * h * w * sizeof *out);
    sdc_unet_cond c = *cond;
    c.extra = ce ? win->extra : NULL;
    for (int ty = 0; ty < win->ay.count; ty++)
        for (int tx = 0; tx < win->ax.count; tx++) {
            int y0 = sdc_vae_tile_start(&win->ay, ty), x0 = sdc_vae_tile_start(&win->ax, tx);
            crop(win->x, x, B, cx, h, w, y0, x0, th, tw);
            if (ce)
                crop(win->extra, cond->extra, B, ce, h, w, y0, x0, th, tw);
            sdc_status s = sdc_unet_forward(u, win->x, B, th, tw, t, &c, win->out);
            if (s != SDC_OK)
                return s;
            sdc_vae_tile_weights(&win->ay, ty, 1, win->wy);
            sdc_vae_tile_weights(&win->ax, tx, 1, win->wx);
            add_weighted(out, win->out, B, co, h, w, y0, x0, th, tw, win->wy, win->wx);
        }
    return SDC_OK;
}

sdc_status sdc_pipeline_unet_tiled(sdc_unet *u, const float *x, int B, int h, int w, float t,
                                   const sdc_unet_cond *cond, int tile, int overlap,
                                   float *out)
{
    if (tile <= 0 || (h <= tile && w <= tile))
        return sdc_unet_forward(u, x, B, h, w, t, cond, out);
    if (tile % 8 || overlap < 1 || 2 * overlap > tile)
        return sdc_fail(SDC_ERR_ARG, "UNet tiles of %d cells overlapping by %d: the tile must "
                        "be a multiple of 8 and at least twice the overlap", tile, overlap);
    if (cond->residuals)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "ControlNet residuals with a tiled UNet");
    windows win = {.ay = sdc_vae_tile_plan(h, tile, overlap),
                   .ax = sdc_vae_tile_plan(w, tile, overlap)};
    size_t cells = (size_t)win.ay.size * win.ax.size;
    int ce = cond->extra ? cond->extra_channels : 0, cin = sdc_unet_in_channels(u);
    win.x = malloc((size_t)B * (cin - ce) * cells * sizeof(float));
    win.extra = malloc(((size_t)B * ce * cells + 1) * sizeof(float));
    win.out = malloc((size_t)B * sdc_unet_out_channels(u) * cells * sizeof(float));
    win.wy = malloc((size_t)win.ay.size * sizeof(float));
    win.wx = malloc((size_t)win.ax.size * sizeof(float));
    sdc_status s = win.x && win.extra && win.out && win.wy && win.wx
                       ? run_windows(u, x, B, h, w, t, cond, &win, out)
                       : sdc_fail(SDC_ERR_NOMEM, "out of memory for UNet tiles");
    free(win.x);
    free(win.extra);
    free(win.out);
    free(win.wy);
    free(win.wx);
    return s;
}
