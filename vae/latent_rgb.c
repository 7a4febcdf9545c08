/* Fitted latent-to-RGB maps (see vae/latent_rgb.h and docs/previews.md). Each row is what
 * one latent channel adds to R, G and B in the decoder's [-1, 1] range, fitted by least
 * squares of decoded pictures against their latents: the factors ComfyUI publishes for its
 * SD15 and SDXL latent formats (stable-diffusion.cpp's preview uses the same ones). */
#include "vae/latent_rgb.h"

#include <math.h>
#include <stddef.h>

#include "ops/error.h"

/* SD 1.x / 2.x (scaling 0.18215): channel 0 ~ luminance, 1 ~ green-magenta, 2 ~ cyan-red,
 * 3 ~ yellow-blue; no bias. */
static const sdc_latent_rgb sd_map = {
    .weight = {{0.3512f, 0.2297f, 0.3227f},
               {0.3250f, 0.4974f, 0.2350f},
               {-0.2829f, 0.1762f, 0.2721f},
               {-0.2120f, -0.2616f, -0.7177f}},
    .bias = {0.0f, 0.0f, 0.0f},
};

/* SDXL (scaling 0.13025): channel 0 ~ luminance, 1 and 2 ~ chroma; the fit has a bias. */
static const sdc_latent_rgb sdxl_map = {
    .weight = {{0.3651f, 0.4232f, 0.4341f},
               {-0.2533f, -0.0042f, 0.1068f},
               {0.1076f, 0.1111f, -0.0362f},
               {-0.3165f, -0.2492f, -0.2188f}},
    .bias = {0.1084f, -0.0175f, -0.0011f},
};

sdc_status sdc_latent_rgb_for_family(sdc_family family, sdc_latent_rgb *out)
{
    switch (family) {
    case SDC_FAMILY_SDXL:
        *out = sdxl_map;
        return SDC_OK;
    case SDC_FAMILY_SD2_X4:
        return sdc_fail(SDC_ERR_UNSUPPORTED, "--preview proj has no latent-to-RGB map for the "
                        "x4 upscaler's latent space; use --preview vae");
    default:
        *out = sd_map;
        return SDC_OK;
    }
}

static uint8_t to_u8(float v)
{
    float x = (v + 1.0f) * 127.5f; /* [-1, 1] -> [0, 255] */
    if (!(x > 0.0f)) /* NaN too */
        return 0;
    return x >= 255.0f ? 255 : (uint8_t)lrintf(x);
}

void sdc_latent_rgb_project(const sdc_latent_rgb *map, const float *latent, int h, int w,
                            uint8_t *rgb)
{
    size_t hw = (size_t)h * w;
    for (size_t i = 0; i < hw; i++)
        for (int c = 0; c < 3; c++) {
            float v = map->bias[c];
            for (int k = 0; k < 4; k++)
                v += latent[k * hw + i] * map->weight[k][c];
            rgb[3 * i + c] = to_u8(v);
        }
}
