/* The SD 2 x4 upscaler's condition (diffusers StableDiffusionUpscalePipeline): the low-res
 * picture at the latent's size, in [-1, 1], noised with the low-res DDPM schedule at the
 * noise level,
 *     extra [3, h, w] = sqrt(acp[level]) x + sqrt(1 - acp[level]) noise,
 * where the noise is the run's first draw and acp the schedule's float32 alphas_cumprod; the
 * noise level is also the UNet's class label. */
#include <math.h>
#include <stdlib.h>

#include "image/image.h"
#include "image/resize.h"
#include "ops/error.h"
#include "pipeline/pipeline_impl.h"

/* The x4 upscaler's low-res noise may go no higher (its model_index.json max_noise_level). */
#define MAX_NOISE_LEVEL 350

/* x [3, h, w] in [-1, 1] from the init picture, resized (bilinear) only when its size is not
 * the latent's. */
static sdc_status low_res_pixels(const sdc_generate_params *p, int w, int h, float *x)
{
    sdc_image src = {.width = p->init_width, .height = p->init_height, .channels = 3,
                     .pixels = (uint8_t *)p->init_rgb};
    sdc_image fit = src;
    if (src.width != w || src.height != h) {
        sdc_status s = sdc_image_resize(&src, w, h, &fit);
        if (s != SDC_OK)
            return s;
    }
    size_t hw = (size_t)w * h;
    for (size_t i = 0; i < hw; i++)
        for (int c = 0; c < 3; c++)
            x[c * hw + i] = (float)fit.pixels[i * 3 + c] / 255.0f * 2.0f - 1.0f;
    if (fit.pixels != src.pixels)
        sdc_image_free(&fit);
    return SDC_OK;
}

sdc_status sdc_pipeline_upscale_condition(const sdc_generate_params *p, int w, int h,
                                          sdc_rng *rng, float *extra)
{
    if (!p->init_rgb)
        return sdc_fail(SDC_ERR_ARG, "the x4 upscaler upscales a picture: give it one (-i FILE)");
    if (p->noise_level < 0 || p->noise_level > MAX_NOISE_LEVEL)
        return sdc_fail(SDC_ERR_ARG, "the noise level must be 0..%d (got %d)", MAX_NOISE_LEVEL,
                        p->noise_level);
    size_t n = (size_t)3 * w * h;
    float *noise = malloc(n * sizeof *noise);
    float *acp = malloc(1000 * sizeof *acp);
    if (!noise || !acp) {
        free(noise);
        free(acp);
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for the low-res condition");
    }
    sdc_noise_schedule low = sdc_noise_schedule_x4();
    sdc_alphas_cumprod_diffusers(&low, acp);
    sdc_rng_randn(rng, noise, n); /* the first draw, before the latent's */
    sdc_status s = low_res_pixels(p, w, h, extra);
    float a = sqrtf(acp[p->noise_level]), b = sqrtf(1.0f - acp[p->noise_level]);
    for (size_t i = 0; s == SDC_OK && i < n; i++)
        extra[i] = a * extra[i] + b * noise[i];
    free(noise);
    free(acp);
    return s;
}
