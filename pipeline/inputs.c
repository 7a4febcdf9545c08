/* Init image and mask at the output size, in the forms diffusers' img2img and inpainting
 * pipelines feed the VAE and the UNet, and the final pixel composite. */
#include <stdlib.h>
#include <string.h>

#include "image/mask.h"
#include "image/resize.h"
#include "ops/error.h"
#include "pipeline/pipeline_impl.h"

void sdc_pipeline_inputs_free(sdc_pipeline_inputs *in)
{
    free(in->init_rgb);
    free(in->mask);
    free(in->init_image);
    free(in->mask_pixels);
    free(in->masked_image);
    free(in->mask_latent);
    memset(in, 0, sizeof *in);
}

/* src (w x h, channels) at width x height: copied when the size matches, else resampled
 * (smooth for pictures, nearest for masks). */
static sdc_status resized(const uint8_t *src, int w, int h, int channels, int width,
                          int height, int nearest, uint8_t **out)
{
    size_t bytes = (size_t)width * height * channels;
    if (w == width && h == height) {
        *out = malloc(bytes);
        if (!*out)
            return sdc_fail(SDC_ERR_NOMEM, "out of memory for the init image");
        memcpy(*out, src, bytes);
        return SDC_OK;
    }
    sdc_image from = {w, h, channels, (uint8_t *)src}, to = {0};
    sdc_status s = nearest ? sdc_image_resize_nearest(&from, width, height, &to)
                           : sdc_image_resize(&from, width, height, &to);
    *out = to.pixels;
    return s;
}

static sdc_status check_inputs(const sdc_generate_params *p)
{
    if (!p->init_rgb && p->mask)
        return sdc_fail(SDC_ERR_ARG, "a mask needs an init image to repaint");
    if (!p->init_rgb)
        return SDC_OK;
    if (p->init_width <= 0 || p->init_height <= 0 || p->init_width > 65536 ||
        p->init_height > 65536)
        return sdc_fail(SDC_ERR_ARG, "init image size %dx%d is not usable", p->init_width,
                        p->init_height);
    if (!(p->strength >= 0.0f && p->strength <= 1.0f))
        return sdc_fail(SDC_ERR_ARG, "strength %g is outside [0, 1]", (double)p->strength);
    return SDC_OK;
}

/* The float forms of the init image and mask (see sdc_pipeline_inputs). */
static void convert(sdc_pipeline_inputs *in)
{
    size_t n = (size_t)in->width * in->height;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            in->init_image[c * n + i] = 2.0f * (in->init_rgb[i * 3 + c] / 255.0f) - 1.0f;
    if (!in->mask)
        return;
    in->mask_empty = 1;
    for (size_t i = 0; i < n; i++) {
        float m = in->mask[i] / 255.0f >= 0.5f ? 1.0f : 0.0f;
        in->mask_pixels[i] = m;
        in->mask[i] = m > 0.0f ? 255 : 0; /* the composite's alpha, feathered later */
        in->mask_empty &= m == 0.0f;
        for (int c = 0; c < 3; c++)
            in->masked_image[c * n + i] = m < 0.5f ? in->init_image[c * n + i] : 0.0f;
    }
    int h = in->height / 8, w = in->width / 8;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            in->mask_latent[y * w + x] = in->mask_pixels[(size_t)y * 8 * in->width + x * 8];
}

sdc_status sdc_pipeline_feather(uint8_t *alpha, int width, int height, float blur)
{
    if (!(blur >= 0.0f && blur <= 1000.0f))
        return sdc_fail(SDC_ERR_ARG, "mask blur %g is outside [0, 1000]", (double)blur);
    if (blur == 0.0f)
        return SDC_OK;
    sdc_image image = {width, height, 1, alpha};
    return sdc_mask_blur(&image, blur);
}

sdc_status sdc_pipeline_inputs_prepare(const sdc_generate_params *p, sdc_pipeline_inputs *in)
{
    memset(in, 0, sizeof *in);
    in->width = p->width;
    in->height = p->height;
    sdc_status s = check_inputs(p);
    if (s != SDC_OK || !p->init_rgb)
        return s;
    size_t n = (size_t)p->width * p->height;
    s = resized(p->init_rgb, p->init_width, p->init_height, 3, p->width, p->height, 0,
                &in->init_rgb);
    if (s == SDC_OK && p->mask)
        s = resized(p->mask, p->init_width, p->init_height, 1, p->width, p->height, 1,
                    &in->mask);
    if (s == SDC_OK) {
        in->init_image = malloc(3 * n * sizeof(float));
        if (p->mask) {
            in->mask_pixels = malloc(n * sizeof(float));
            in->masked_image = malloc(3 * n * sizeof(float));
            in->mask_latent = malloc(n / 64 * sizeof(float) + sizeof(float));
        }
        if (!in->init_image || (p->mask && (!in->mask_pixels || !in->masked_image ||
                                            !in->mask_latent)))
            s = sdc_fail(SDC_ERR_NOMEM, "out of memory for the init image");
    }
    if (s != SDC_OK) {
        sdc_pipeline_inputs_free(in);
        return s;
    }
    convert(in);
    s = in->mask ? sdc_pipeline_feather(in->mask, in->width, in->height, p->mask_blur) : SDC_OK;
    if (s != SDC_OK)
        sdc_pipeline_inputs_free(in);
    return s;
}

void sdc_pipeline_blend(const uint8_t *keep, const uint8_t *alpha, size_t pixels, uint8_t *rgb)
{
    for (size_t i = 0; i < pixels; i++) {
        unsigned m = alpha[i];
        for (int c = 0; c < 3; c++) {
            unsigned k = keep[i * 3 + c], gen = rgb[i * 3 + c];
            rgb[i * 3 + c] = (uint8_t)((k * (255 - m) + gen * m + 127) / 255);
        }
    }
}

void sdc_pipeline_composite(const sdc_pipeline_inputs *in, uint8_t *rgb)
{
    sdc_pipeline_blend(in->init_rgb, in->mask, (size_t)in->width * in->height, rgb);
}
