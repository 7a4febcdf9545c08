/* Canvas and mask for outpainting (see outpaint.h). */
#include "image/outpaint.h"

#include <stdlib.h>
#include <string.h>

#include "ops/error.h"

#define MAX_PAD 4096

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* splitmix64: a small, well-mixed generator for the noise fill. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

sdc_status sdc_outpaint_canvas(const sdc_image *init, const sdc_image *mask, const int pad[4],
                               sdc_outpaint_fill fill, uint64_t seed, sdc_image *canvas,
                               sdc_image *canvas_mask)
{
    memset(canvas, 0, sizeof *canvas);
    memset(canvas_mask, 0, sizeof *canvas_mask);
    for (int i = 0; i < 4; i++)
        if (pad[i] < 0 || pad[i] > MAX_PAD)
            return sdc_fail(SDC_ERR_ARG, "outpaint border %d is outside 0..%d", pad[i], MAX_PAD);
    if (mask && (mask->width != init->width || mask->height != init->height))
        return sdc_fail(SDC_ERR_ARG, "the mask is %dx%d but the image %dx%d", mask->width,
                        mask->height, init->width, init->height);
    int W = init->width + pad[0] + pad[2], H = init->height + pad[1] + pad[3];
    canvas->pixels = malloc((size_t)W * H * 3);
    canvas_mask->pixels = malloc((size_t)W * H);
    if (!canvas->pixels || !canvas_mask->pixels) {
        sdc_image_free(canvas);
        sdc_image_free(canvas_mask);
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for a %dx%d outpainting canvas", W, H);
    }
    *canvas = (sdc_image){W, H, 3, canvas->pixels};
    *canvas_mask = (sdc_image){W, H, 1, canvas_mask->pixels};
    uint64_t state = seed;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int sx = x - pad[0], sy = y - pad[1];
            int inside = sx >= 0 && sy >= 0 && sx < init->width && sy < init->height;
            size_t o = (size_t)y * W + x;
            size_t i = (size_t)clampi(sy, 0, init->height - 1) * init->width +
                       clampi(sx, 0, init->width - 1);
            canvas_mask->pixels[o] = inside ? (mask ? mask->pixels[i] : 0) : 255;
            for (int c = 0; c < 3; c++)
                canvas->pixels[o * 3 + c] = inside || fill == SDC_OUTPAINT_EDGE
                                                ? init->pixels[i * 3 + c]
                                                : (uint8_t)(next_random(&state) >> 56);
        }
    return SDC_OK;
}
