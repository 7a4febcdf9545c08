/* "Inpaint only masked" (AUTOMATIC1111's inpaint area "Only masked"): a small repair on a big
 * picture is made at the model's full resolution. The mask's bounding box, padded and grown
 * to the output's aspect ratio, is cut out, inpainted at width x height, scaled back to the
 * box and pasted through the feathered mask, so nothing outside the mask changes. */
#include <stdlib.h>
#include <string.h>

#include "image/resize.h"
#include "ops/error.h"
#include "pipeline/pipeline_impl.h"

typedef struct box {
    int x0, y0, x1, y1; /* [x0, x1) x [y0, y1) */
} box;

/* The bounding box of mask pixels >= 128; empty (x1 == 0) when there are none. */
static box mask_bounds(const uint8_t *mask, int width, int height)
{
    box b = {width, height, 0, 0};
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            if (mask[(size_t)y * width + x] >= 128) {
                b.x0 = x < b.x0 ? x : b.x0;
                b.y0 = y < b.y0 ? y : b.y0;
                b.x1 = x + 1 > b.x1 ? x + 1 : b.x1;
                b.y1 = y + 1 > b.y1 ? y + 1 : b.y1;
            }
    return b;
}

/* Grows [*lo, *hi) to `want` pixels (at most `limit`), centred, shifted back inside. */
static void grow(int *lo, int *hi, int want, int limit)
{
    want = want > limit ? limit : want;
    int extra = want - (*hi - *lo);
    if (extra <= 0)
        return;
    *lo -= extra / 2;
    *hi += extra - extra / 2;
    if (*lo < 0)
        *hi -= *lo, *lo = 0;
    if (*hi > limit)
        *lo -= *hi - limit, *hi = limit;
    *lo = *lo < 0 ? 0 : *lo;
}

/* The padded box with the aspect ratio of out_w x out_h, inside the image. */
static box crop_region(box b, int padding, int width, int height, int out_w, int out_h)
{
    b.x0 = b.x0 - padding < 0 ? 0 : b.x0 - padding;
    b.y0 = b.y0 - padding < 0 ? 0 : b.y0 - padding;
    b.x1 = b.x1 + padding > width ? width : b.x1 + padding;
    b.y1 = b.y1 + padding > height ? height : b.y1 + padding;
    double w = b.x1 - b.x0, h = b.y1 - b.y0, ratio = (double)out_w / out_h;
    if (w / h < ratio)
        grow(&b.x0, &b.x1, (int)(h * ratio + 0.5), width);
    else
        grow(&b.y0, &b.y1, (int)(w / ratio + 0.5), height);
    return b;
}

static sdc_status crop(const uint8_t *src, int width, int channels, box b, uint8_t **out)
{
    int w = b.x1 - b.x0, h = b.y1 - b.y0;
    *out = malloc((size_t)w * h * channels);
    if (!*out)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory cutting out the masked area");
    for (int y = 0; y < h; y++)
        memcpy(*out + (size_t)y * w * channels,
               src + ((size_t)(b.y0 + y) * width + b.x0) * channels, (size_t)w * channels);
    return SDC_OK;
}

/* Pastes the repaired box (already at box size) into rgb through the feathered mask. */
static sdc_status paste(const sdc_generate_params *p, box b, const uint8_t *patch, uint8_t *rgb)
{
    int W = p->init_width, H = p->init_height;
    size_t n = (size_t)W * H;
    uint8_t *alpha = malloc(n);
    if (!alpha)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory pasting the masked area");
    for (size_t i = 0; i < n; i++)
        alpha[i] = p->mask[i] >= 128 ? 255 : 0;
    sdc_status s = sdc_pipeline_feather(alpha, W, H, p->mask_blur);
    memcpy(rgb, p->init_rgb, n * 3);
    int w = b.x1 - b.x0;
    for (int y = b.y0; s == SDC_OK && y < b.y1; y++) {
        size_t row = (size_t)y * W + b.x0;
        uint8_t *dst = rgb + row * 3;
        memcpy(dst, patch + (size_t)(y - b.y0) * w * 3, (size_t)w * 3);
        sdc_pipeline_blend(p->init_rgb + row * 3, alpha + row, (size_t)w, dst);
    }
    free(alpha);
    return s;
}

sdc_status sdc_pipeline_generate_masked_area(sdc_model *m, const sdc_generate_params *p,
                                             uint8_t *rgb)
{
    if (!p->init_rgb || !p->mask)
        return sdc_fail(SDC_ERR_ARG, "inpainting only the masked area needs an init image "
                        "and a mask");
    box b = mask_bounds(p->mask, p->init_width, p->init_height);
    if (b.x1 == 0) { /* nothing to repaint */
        memcpy(rgb, p->init_rgb, (size_t)p->init_width * p->init_height * 3);
        return SDC_OK;
    }
    b = crop_region(b, p->inpaint_padding, p->init_width, p->init_height, p->width, p->height);
    sdc_generate_params sub = *p;
    sub.inpaint_area = SDC_INPAINT_WHOLE;
    sub.init_width = b.x1 - b.x0;
    sub.init_height = b.y1 - b.y0;
    uint8_t *init = NULL, *mask = NULL, *out = malloc((size_t)p->width * p->height * 3);
    sdc_image patch = {0};
    sdc_status s = out ? crop(p->init_rgb, p->init_width, 3, b, &init)
                       : sdc_fail(SDC_ERR_NOMEM, "out of memory for the masked area");
    if (s == SDC_OK)
        s = crop(p->mask, p->init_width, 1, b, &mask);
    sub.init_rgb = init;
    sub.mask = mask;
    if (s == SDC_OK)
        s = sdc_pipeline_generate(m, &sub, out, NULL);
    sdc_image generated = {p->width, p->height, 3, out};
    if (s == SDC_OK)
        s = sdc_image_resize(&generated, sub.init_width, sub.init_height, &patch);
    if (s == SDC_OK)
        s = paste(p, b, patch.pixels, rgb);
    free(init);
    free(mask);
    free(out);
    free(patch.pixels);
    return s;
}
