/* Hires fix, as AUTOMATIC1111 runs it: a txt2img pass at width x height, its result made
 * hr_scale times larger, then an img2img pass at the large size.
 *
 *   latent, latent-nearest  the first pass's latent interpolated (torch's bilinear with
 *                           align_corners=False, or nearest), never decoded
 *   lanczos                 the decoded picture resized with Lanczos-3, encoded again
 *   x4 model                the picture through the SD 2 x4 upscaler (same prompt, seed,
 *                           sampler and steps), then Lanczos to the size
 *
 * The second pass runs hr_steps (0: steps) steps at strength hr_denoising: the last hr_steps
 * of a schedule of int(hr_steps / min(hr_denoising, 0.999)) steps (AUTOMATIC1111's
 * setup_img2img_steps with a step count given), with the same seed: from a latent its noise
 * is the seed's first draw, from a picture the draws are those of any sdc img2img. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/resize_lanczos.h"
#include "ops/error.h"
#include "pipeline/lora_tags.h"
#include "pipeline/pipeline_impl.h"
#include "scheduler/sampler.h"

typedef enum upscaler { LATENT, LATENT_NEAREST, LANCZOS, MODEL } upscaler;

void sdc_pipeline_hires_size(const sdc_generate_params *p, int *width, int *height)
{
    *width = (int)((double)p->width * p->hr_scale) / 8 * 8;
    *height = (int)((double)p->height * p->hr_scale) / 8 * 8;
}

static sdc_status upscaler_of(const sdc_generate_params *p, upscaler *u)
{
    const char *name = p->hr_upscaler ? p->hr_upscaler : "latent";
    if (p->hr_upscale_model)
        *u = MODEL;
    else if (strcmp(name, "latent") == 0)
        *u = LATENT;
    else if (strcmp(name, "latent-nearest") == 0)
        *u = LATENT_NEAREST;
    else if (strcmp(name, "lanczos") == 0)
        *u = LANCZOS;
    else
        return sdc_fail(SDC_ERR_ARG, "hires fix: unknown upscaler \"%s\"; choose latent, "
                        "latent-nearest, lanczos or an x4 upscaler model", name);
    return SDC_OK;
}

static sdc_status check(const sdc_generate_params *p)
{
    if (p->init_rgb)
        return sdc_fail(SDC_ERR_ARG, "hires fix is for text-to-image (no init picture)");
    if (!(p->hr_scale >= 1.0f && p->hr_scale <= 8.0f))
        return sdc_fail(SDC_ERR_ARG, "hires fix: scale %g is outside 1..8", (double)p->hr_scale);
    if (!(p->hr_denoising > 0.0f && p->hr_denoising <= 1.0f))
        return sdc_fail(SDC_ERR_ARG, "hires fix: denoising strength %g is outside (0, 1]",
                        (double)p->hr_denoising);
    if (p->hr_steps < 0)
        return sdc_fail(SDC_ERR_ARG, "hires fix: %d steps", p->hr_steps);
    if (p->hr_upscale_model &&
        strcmp(sdc_model_family_name(p->hr_upscale_model), "sd2-x4-upscaler") != 0)
        return sdc_fail(SDC_ERR_ARG, "hires fix: the upscale model is a %s model, not an SD 2 "
                        "x4 upscaler", sdc_model_family_name(p->hr_upscale_model));
    return SDC_OK;
}

/* dst [C, ho, wo] from src [C, hi, wi] as torch.nn.functional.interpolate: bilinear with
 * align_corners=False (source = (d + 0.5) * in / out - 0.5, at least 0), or nearest (source
 * = floor(d * in / out)). */
void sdc_pipeline_latent_resize(const float *src, int C, int hi, int wi, float *dst, int ho,
                                int wo, int nearest)
{
    float sy = (float)hi / ho, sx = (float)wi / wo;
    for (int y = 0; y < ho; y++)
        for (int x = 0; x < wo; x++) {
            float fy = nearest ? floorf(y * sy) : fmaxf((y + 0.5f) * sy - 0.5f, 0.0f);
            float fx = nearest ? floorf(x * sx) : fmaxf((x + 0.5f) * sx - 0.5f, 0.0f);
            int y0 = (int)fy < hi - 1 ? (int)fy : hi - 1, x0 = (int)fx < wi - 1 ? (int)fx : wi - 1;
            int y1 = y0 + (y0 < hi - 1), x1 = x0 + (x0 < wi - 1);
            float ly = nearest ? 0.0f : fy - y0, lx = nearest ? 0.0f : fx - x0;
            for (int c = 0; c < C; c++) {
                const float *s = src + (size_t)c * hi * wi;
                dst[((size_t)c * ho + y) * wo + x] =
                    (1 - ly) * ((1 - lx) * s[y0 * wi + x0] + lx * s[y0 * wi + x1]) +
                    ly * ((1 - lx) * s[y1 * wi + x0] + lx * s[y1 * wi + x1]);
            }
        }
}

/* The x4 upscaler's pass over the first picture: the prompt without LoRA tags (they are for
 * the base model), the first pass's sampler, steps, CFG and seed. */
static sdc_status through_model(const sdc_generate_params *p, const uint8_t *small,
                                uint8_t **big, int *bw, int *bh)
{
    char *prompt;
    sdc_lora_tag *tags;
    int n_tags;
    sdc_status s = sdc_lora_tags_parse(p->prompt ? p->prompt : "", &prompt, &tags, &n_tags);
    if (s != SDC_OK)
        return s;
    sdc_lora_tags_free(tags, n_tags);
    sdc_generate_params up = *p;
    up.hires = 0;
    up.prompt = prompt;
    up.loras = NULL, up.lora_count = 0, up.embd_dir = NULL;
    up.refiner = NULL, up.freeu = 0;
    up.init_rgb = small, up.init_width = p->width, up.init_height = p->height;
    up.width = 4 * p->width, up.height = 4 * p->height;
    *bw = up.width, *bh = up.height;
    *big = malloc((size_t)up.width * up.height * 3);
    s = *big ? sdc_pipeline_generate(p->hr_upscale_model, &up, *big, NULL)
             : sdc_fail(SDC_ERR_NOMEM, "out of memory for a %dx%d picture", up.width,
                        up.height);
    free(prompt);
    if (s != SDC_OK) {
        free(*big);
        *big = NULL;
    }
    return s;
}

/* *big [height, width, 3] (malloc'd): the first pass's picture made large. */
static sdc_status upscale_picture(const sdc_generate_params *p, upscaler u, uint8_t *small,
                                  int width, int height, uint8_t **big)
{
    sdc_image src = {p->width, p->height, 3, small}, dst = {0};
    uint8_t *model_out = NULL;
    if (u == MODEL) {
        sdc_status s = through_model(p, small, &model_out, &src.width, &src.height);
        if (s != SDC_OK)
            return s;
        src.pixels = model_out;
    }
    sdc_status s = sdc_image_resize_lanczos(&src, width, height, &dst);
    free(model_out);
    *big = dst.pixels;
    return s;
}

static sdc_status run_passes(sdc_model *m, const sdc_generate_params *p, upscaler u,
                             uint8_t *rgb)
{
    int W, H;
    sdc_pipeline_hires_size(p, &W, &H);
    sdc_generate_params first = *p, second = *p;
    first.hires = second.hires = 0;
    int n = p->hr_steps > 0 ? p->hr_steps : p->steps;
    double d = p->hr_denoising < 0.999f ? p->hr_denoising : 0.999;
    second.width = W, second.height = H;
    second.steps = (int)(n / d);
    second.strength = (float)d; /* 1 still starts from the first pass, as in AUTOMATIC1111 */
    if (p->hr_sampler)
        second.sampler = p->hr_sampler;
    int first_kind = sdc_sampler_from_name(p->sampler ? p->sampler : "euler_a");
    sdc_pipeline_start from = {
        .img2img_steps = n,
        .hires_first_steps = sdc_sampler_schedule_steps((sdc_sampler_kind)first_kind, p->steps)};
    int latent = u == LATENT || u == LATENT_NEAREST;
    size_t small = latent ? (size_t)4 * (p->height / 8) * (p->width / 8)
                          : (size_t)3 * p->width * p->height;
    float *lat = latent ? malloc(small * sizeof *lat) : NULL;
    float *big_lat = latent ? malloc((size_t)4 * (H / 8) * (W / 8) * sizeof *big_lat) : NULL;
    uint8_t *pic = latent ? NULL : malloc(small), *big = NULL;
    sdc_status s = (latent ? lat && big_lat : pic != NULL)
                       ? sdc_pipeline_generate(m, &first, pic, lat)
                       : sdc_fail(SDC_ERR_NOMEM, "hires fix: out of memory");
    if (s == SDC_OK && latent) {
        sdc_pipeline_latent_resize(lat, 4, p->height / 8, p->width / 8, big_lat, H / 8, W / 8,
                                   u == LATENT_NEAREST);
        from.latent = big_lat;
    } else if (s == SDC_OK) {
        s = upscale_picture(p, u, pic, W, H, &big);
        second.init_rgb = big, second.init_width = W, second.init_height = H;
    }
    if (s == SDC_OK)
        s = sdc_pipeline_generate_from(m, &second, &from, rgb, NULL);
    free(lat);
    free(big_lat);
    free(pic);
    free(big);
    return s;
}

sdc_status sdc_pipeline_hires(sdc_model *m, const sdc_generate_params *p, uint8_t *rgb)
{
    upscaler u = LATENT;
    sdc_status s = check(p);
    if (s == SDC_OK)
        s = upscaler_of(p, &u);
    return s == SDC_OK ? run_passes(m, p, u, rgb) : s;
}
