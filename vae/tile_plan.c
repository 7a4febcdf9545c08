#include "vae/tile_plan.h"

#include <math.h>

sdc_vae_tile_axis sdc_vae_tile_plan(int length, int tile, int overlap)
{
    sdc_vae_tile_axis a = {length, length, 1};
    if (length > tile) {
        a.size = tile;
        /* ceil((length - overlap) / (tile - overlap)): steps of at most tile - overlap */
        a.count = (length - overlap + tile - overlap - 1) / (tile - overlap);
    }
    return a;
}

int sdc_vae_tile_start(const sdc_vae_tile_axis *a, int i)
{
    if (a->count == 1)
        return 0;
    long long span = a->length - a->size;
    return (int)((i * span + (a->count - 1) / 2) / (a->count - 1));
}

/* Weight of tile i at sample x (of length * scale), before normalising: over an overlap of
 * n samples with a neighbour it rises from 0.5 / n at the cut to 1 - 0.5 / n, mirroring the
 * neighbour's fall, so two overlapping tiles already sum to 1. */
static float raw_weight(const sdc_vae_tile_axis *a, int i, int scale, int x)
{
    int s = sdc_vae_tile_start(a, i) * scale, e = s + a->size * scale;
    if (x < s || x >= e)
        return 0.0f;
    float w = 1.0f;
    if (i > 0) {
        int n = (sdc_vae_tile_start(a, i - 1) + a->size) * scale - s;
        w = fminf(w, ((float)(x - s) + 0.5f) / (float)n);
    }
    if (i + 1 < a->count) {
        int n = e - sdc_vae_tile_start(a, i + 1) * scale;
        w = fminf(w, ((float)(e - x) - 0.5f) / (float)n);
    }
    return w;
}

void sdc_vae_tile_weights(const sdc_vae_tile_axis *a, int i, int scale, float *w)
{
    int s = sdc_vae_tile_start(a, i), e = s + a->size;
    /* only neighbours that reach into tile i contribute to the sum */
    int first = i, last = i;
    while (first > 0 && sdc_vae_tile_start(a, first - 1) + a->size > s)
        first--;
    while (last + 1 < a->count && sdc_vae_tile_start(a, last + 1) < e)
        last++;
    for (int j = 0; j < a->size * scale; j++) {
        int x = s * scale + j;
        float sum = 0.0f;
        for (int k = first; k <= last; k++)
            sum += raw_weight(a, k, scale, x);
        w[j] = raw_weight(a, i, scale, x) / sum;
    }
}
