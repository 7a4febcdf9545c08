/* Canny edge detection, following the arithmetic OpenCV documents for cv2.Canny with
 * apertureSize 3 and L2gradient false: integer Sobel gradients, the integer tan(22.5°) test
 * for the direction, a zero border around the magnitude, and a hysteresis that only grows
 * from pixels above the high threshold. */
#include "image/canny.h"

#include <stdlib.h>
#include <string.h>

#include "ops/error.h"

/* tan(22.5 degrees) in 1.15 fixed point */
#define TG22 13573

enum { CANDIDATE = 0, NOT_EDGE = 1, EDGE = 2 };

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* dx, dy, mag [h, w] for channel-interleaved src: per pixel the channel whose |dx| + |dy| is
 * largest (the first on ties). */
static void gradients(const uint8_t *src, int w, int h, int ch, int16_t *dx, int16_t *dy,
                      int16_t *mag)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int ym = clampi(y - 1, 0, h - 1), yp = clampi(y + 1, 0, h - 1);
            int xm = clampi(x - 1, 0, w - 1), xp = clampi(x + 1, 0, w - 1);
            int best = -1;
            for (int k = 0; k < ch; k++) {
#define P(yy, xx) ((int)src[((size_t)(yy) * w + (xx)) * ch + k])
                int gx = P(ym, xp) + 2 * P(y, xp) + P(yp, xp) - P(ym, xm) - 2 * P(y, xm) -
                         P(yp, xm);
                int gy = P(yp, xm) + 2 * P(yp, x) + P(yp, xp) - P(ym, xm) - 2 * P(ym, x) -
                         P(ym, xp);
#undef P
                int m = abs(gx) + abs(gy);
                if (m > best) {
                    size_t i = (size_t)y * w + x;
                    /* |gx|, |gy| <= 4 * 255 and m <= 2040: 16 bits hold them */
                    best = m, dx[i] = (int16_t)gx, dy[i] = (int16_t)gy, mag[i] = (int16_t)m;
                }
            }
        }
}

/* Magnitude with a zero border. */
static int mag_at(const int16_t *mag, int w, int h, int y, int x)
{
    return y < 0 || y >= h || x < 0 || x >= w ? 0 : mag[(size_t)y * w + x];
}

/* 1 when pixel (y, x) is a maximum across its gradient direction. */
static int is_max(const int16_t *dx, const int16_t *dy, const int16_t *mag, int w, int h, int y,
                  int x)
{
    size_t i = (size_t)y * w + x;
    int m = mag[i], xs = dx[i], ys = dy[i];
    long long ax = abs(xs), ay = (long long)abs(ys) << 15, tg22x = ax * TG22;
    if (ay < tg22x) /* near horizontal gradient: compare along the row */
        return m > mag_at(mag, w, h, y, x - 1) && m >= mag_at(mag, w, h, y, x + 1);
    long long tg67x = tg22x + (ax << 16);
    if (ay > tg67x) /* near vertical: along the column */
        return m > mag_at(mag, w, h, y - 1, x) && m >= mag_at(mag, w, h, y + 1, x);
    int s = (xs ^ ys) < 0 ? -1 : 1; /* the diagonal the gradient points along */
    return m > mag_at(mag, w, h, y - 1, x - s) && m > mag_at(mag, w, h, y + 1, x + s);
}

/* Grows the edges from the seeds on `stack` through 8-connected candidates. */
static void hysteresis(uint8_t *map, int w, int h, uint32_t *stack, size_t top)
{
    while (top > 0) {
        size_t i = stack[--top];
        int y = (int)(i / (size_t)w), x = (int)(i % (size_t)w);
        for (int yy = y - 1; yy <= y + 1; yy++)
            for (int xx = x - 1; xx <= x + 1; xx++) {
                if (yy < 0 || yy >= h || xx < 0 || xx >= w)
                    continue;
                size_t j = (size_t)yy * w + xx;
                if (map[j] == CANDIDATE) {
                    map[j] = EDGE;
                    stack[top++] = (uint32_t)j;
                }
            }
    }
}

sdc_status sdc_canny(const uint8_t *src, int w, int h, int channels, int low, int high,
                     uint8_t *edges)
{
    if (w < 1 || h < 1 || (long long)w * h > UINT32_MAX || (channels != 1 && channels != 3))
        return sdc_fail(SDC_ERR_ARG, "canny: %dx%d picture with %d channels", w, h, channels);
    if (low > high) {
        int t = low;
        low = high, high = t;
    }
    size_t n = (size_t)w * h;
    int16_t *g = malloc(3 * n * sizeof *g);
    uint32_t *stack = malloc(n * sizeof *stack); /* each pixel is pushed at most once */
    if (!g || !stack) {
        free(g);
        free(stack);
        return sdc_fail(SDC_ERR_NOMEM, "canny: out of memory for a %dx%d picture", w, h);
    }
    int16_t *dx = g, *dy = g + n, *mag = g + 2 * n;
    gradients(src, w, h, channels, dx, dy, mag);
    uint8_t *map = edges; /* the labels live in the output until the end */
    size_t top = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            map[i] = NOT_EDGE;
            if (mag[i] > low && is_max(dx, dy, mag, w, h, y, x)) {
                map[i] = mag[i] > high ? EDGE : CANDIDATE;
                if (map[i] == EDGE)
                    stack[top++] = (uint32_t)i;
            }
        }
    hysteresis(map, w, h, stack, top);
    for (size_t i = 0; i < n; i++)
        edges[i] = map[i] == EDGE ? 255 : 0;
    free(g);
    free(stack);
    return SDC_OK;
}
