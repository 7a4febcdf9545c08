/* How tiled VAE passes cover one axis. The axis (in latent cells) is covered by equal tiles
 * (`tile` cells, or the whole axis when it fits) whose starts are spread evenly, so
 * neighbours overlap by at least `overlap` cells. A tile's blend weight is 1 away from its
 * cut edges and ramps linearly towards 0 across the whole overlap with the neighbour on each
 * side, so the pixels near a cut (whose convolutions saw zero padding instead of the
 * neighbouring latent) get the least weight; image edges have no ramp. The weights of all
 * tiles are normalised to sum to 1 at every position. The two axes are planned independently
 * and a tile's weight at a pixel is its row weight times its column weight, which sums to 1
 * over all tiles because each factor does. */
#ifndef SDC_VAE_TILE_PLAN_H
#define SDC_VAE_TILE_PLAN_H

typedef struct sdc_vae_tile_axis {
    int length; /* cells of the axis */
    int size;   /* cells per tile */
    int count;  /* tiles */
} sdc_vae_tile_axis;

/* The tiles covering `length` >= 1 cells; needs 1 <= overlap and 2 * overlap <= tile. */
sdc_vae_tile_axis sdc_vae_tile_plan(int length, int tile, int overlap);

/* First cell of tile i (0 <= i < count). */
int sdc_vae_tile_start(const sdc_vae_tile_axis *a, int i);

/* w [size * scale] = normalised blend weights of tile i over its extent, at `scale` samples
 * per cell (8 for decoded pixels, 1 for latent cells). */
void sdc_vae_tile_weights(const sdc_vae_tile_axis *a, int i, int scale, float *w);

#endif
