/* Conversions between decoded images and 8-bit pixels, as diffusers' VaeImageProcessor and
 * PIL do them (float32 arithmetic, numpy's round-half-to-even). */
#include <math.h>

#include "vae/vae.h"

void sdc_vae_image_to_rgb8(const float *image, int B, int H, int W, uint8_t *rgb)
{
    size_t hw = (size_t)H * W;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++) {
            const float *src = image + ((size_t)b * 3 + c) * hw;
            uint8_t *dst = rgb + (size_t)b * hw * 3 + c;
            for (size_t i = 0; i < hw; i++) {
                float v = src[i] / 2.0f + 0.5f;
                v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
                float r = rintf(v * 255.0f);                /* ties to even */
                dst[i * 3] = r >= 0.0f ? (uint8_t)r : 0; /* a NaN (broken decode) gives 0 */
            }
        }
}

void sdc_vae_rgb8_to_image(const uint8_t *rgb, int B, int H, int W, float *image)
{
    size_t hw = (size_t)H * W;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++) {
            const uint8_t *src = rgb + (size_t)b * hw * 3 + c;
            float *dst = image + ((size_t)b * 3 + c) * hw;
            for (size_t i = 0; i < hw; i++)
                dst[i] = 2.0f * ((float)src[i * 3] / 255.0f) - 1.0f;
        }
}
