/* ControlNets in the sampling loop, as diffusers' StableDiffusionControlNetPipeline runs
 * them: the control picture stretched to the output size (Pillow's Lanczos), scaled to 0..1;
 * each net runs on the same scaled latent batch and context rows as the UNet; its residuals
 * are multiplied by strength x keep (keep = 0 outside the guidance window) and summed over
 * the nets (MultiControlNet). Guess mode: the net sees only the prompt's row, the other row
 * gets nothing, and residual i is scaled by 10^(-1 + i / (n - 1)). */
#include "pipeline/control.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/canny.h"
#include "image/image.h"
#include "image/resize_lanczos.h"
#include "ops/error.h"
#include "pipeline/pipeline_impl.h"

#define MAX_CONTROLS 64

void sdc_pipeline_control_free(sdc_pipeline_control *pc)
{
    for (int i = 0; i < pc->count; i++) {
        if (pc->nets)
            sdc_controlnet_free(pc->nets[i]);
        if (pc->hints)
            free(pc->hints[i]);
    }
    for (int i = 0; pc->res && i < pc->n_res; i++)
        free(pc->res[i]);
    free(pc->spec);
    free(pc->nets);
    free(pc->hints);
    free(pc->res);
    free(pc->res_row);
    memset(pc, 0, sizeof *pc);
}

static sdc_status check_spec(const sdc_control *c, int i)
{
    if (!c->path || !*c->path)
        return sdc_fail(SDC_ERR_ARG, "ControlNet %d: no file", i);
    if (!c->rgb || c->width < 1 || c->height < 1 || c->width > SDC_IMAGE_MAX_SIDE ||
        c->height > SDC_IMAGE_MAX_SIDE ||
        (long long)c->width * c->height > SDC_IMAGE_MAX_PIXELS)
        return sdc_fail(SDC_ERR_ARG, "%s: control picture missing or of unusable size %dx%d",
                        c->path, c->width, c->height);
    if (!isfinite(c->strength) || !(c->start >= 0.0f && c->start <= c->end && c->end <= 1.0f))
        return sdc_fail(SDC_ERR_ARG, "%s: control strength %g must be finite and the window "
                        "%g..%g within 0..1", c->path, c->strength, c->start, c->end);
    if ((unsigned)c->preprocess > SDC_CONTROL_PREPROCESS_CANNY)
        return sdc_fail(SDC_ERR_ARG, "%s: unknown control preprocessor %d", c->path,
                        (int)c->preprocess);
    if (c->preprocess == SDC_CONTROL_PREPROCESS_CANNY &&
        (c->canny_low < 0 || c->canny_high < 0 || c->canny_low > 4080 || c->canny_high > 4080))
        return sdc_fail(SDC_ERR_ARG, "%s: canny thresholds %d,%d are not within 0..4080",
                        c->path, c->canny_low, c->canny_high);
    return SDC_OK;
}

/* RGB8 copy of the picture after its preprocessor. */
static sdc_status preprocess(const sdc_control *c, uint8_t **out)
{
    size_t n = (size_t)c->width * c->height;
    uint8_t *rgb = malloc(3 * n);
    if (!rgb)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for a control picture");
    *out = rgb;
    if (c->preprocess == SDC_CONTROL_PREPROCESS_CANNY) {
        sdc_status s = sdc_canny(c->rgb, c->width, c->height, 3, c->canny_low, c->canny_high,
                                 rgb + 2 * n);
        for (size_t i = 0; s == SDC_OK && i < n; i++) /* gray to RGB in place: pixel i's bytes end at or before edge byte i */
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = rgb[2 * n + i];
        return s;
    }
    for (size_t i = 0; i < 3 * n; i++)
        rgb[i] = c->preprocess == SDC_CONTROL_PREPROCESS_INVERT ? (uint8_t)(255 - c->rgb[i])
                                                                : c->rgb[i];
    return SDC_OK;
}

sdc_status sdc_pipeline_control_picture(const sdc_control *spec, int width, int height,
                                        float **out)
{
    *out = NULL;
    uint8_t *rgb = NULL;
    sdc_status s = preprocess(spec, &rgb);
    if (s != SDC_OK) {
        free(rgb);
        return s;
    }
    sdc_image from = {spec->width, spec->height, 3, rgb}, to = from;
    if (spec->width != width || spec->height != height) {
        s = sdc_image_resize_lanczos(&from, width, height, &to);
        free(rgb);
        if (s != SDC_OK)
            return s;
    }
    size_t n = (size_t)width * height;
    float *f = malloc(3 * n * sizeof *f);
    for (size_t i = 0; f && i < n; i++)
        for (int k = 0; k < 3; k++)
            f[k * n + i] = (float)to.pixels[3 * i + k] / 255.0f;
    free(to.pixels);
    *out = f;
    return f ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "out of memory for a control picture");
}

/* spec[i] = the caller's entry i, read with the stride of its struct_size. */
static sdc_status read_specs(const sdc_generate_params *p, sdc_pipeline_control *pc)
{
    if (p->control_count < 0 || p->control_count > MAX_CONTROLS ||
        (p->control_count > 0 && !p->controls))
        return sdc_fail(SDC_ERR_ARG, "%d ControlNets (at most %d, and an array of them)",
                        p->control_count, MAX_CONTROLS);
    pc->spec = calloc((size_t)p->control_count, sizeof *pc->spec);
    pc->nets = calloc((size_t)p->control_count, sizeof *pc->nets);
    pc->hints = calloc((size_t)p->control_count, sizeof *pc->hints);
    if (!pc->spec || !pc->nets || !pc->hints)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for ControlNets");
    pc->count = p->control_count;
    size_t stride = p->controls[0].struct_size;
    for (int i = 0; i < pc->count; i++) {
        const sdc_control *c = (const sdc_control *)((const char *)p->controls + i * stride);
        sdc_status s = sdc_control_upgrade(c, &pc->spec[i]);
        if (s == SDC_OK)
            s = check_spec(&pc->spec[i], i);
        if (s != SDC_OK)
            return s;
    }
    return SDC_OK;
}

static sdc_status residual_buffers(sdc_pipeline_control *pc, const sdc_unet *unet)
{
    pc->n_res = sdc_unet_skip_count(unet) + 1;
    pc->res = calloc((size_t)pc->n_res, sizeof *pc->res);
    pc->res_row = calloc((size_t)pc->n_res, sizeof *pc->res_row);
    if (!pc->res || !pc->res_row)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for ControlNet residuals");
    for (int i = 0; i < pc->n_res; i++) {
        int c, sh, sw, last = i == pc->n_res - 1;
        sdc_unet_skip_shape(unet, last ? i - 1 : i, pc->h, pc->w, &c, &sh, &sw);
        if (last)
            c = sdc_unet_mid_channels(unet);
        pc->res_row[i] = (size_t)c * sh * sw;
        pc->res[i] = malloc((size_t)pc->rows * pc->res_row[i] * sizeof(float));
        if (!pc->res[i])
            return sdc_fail(SDC_ERR_NOMEM, "out of memory for ControlNet residuals");
    }
    return SDC_OK;
}

/* Net i loaded, checked against the UNet, its hint made from its picture. */
static sdc_status net_prepare(sdc_pipeline_control *pc, int i, const sdc_unet *unet)
{
    const sdc_control *c = &pc->spec[i];
    sdc_status s = sdc_controlnet_load(c->path, &pc->nets[i]);
    if (s == SDC_OK)
        s = sdc_controlnet_check(pc->nets[i], unet, pc->h, pc->w);
    if (s == SDC_OK && sdc_controlnet_hint_channels(pc->nets[i]) != 3)
        s = sdc_fail(SDC_ERR_UNSUPPORTED, "%s: the ControlNet takes %d-channel control "
                     "pictures; sdc gives it RGB", c->path,
                     sdc_controlnet_hint_channels(pc->nets[i]));
    float *picture = NULL;
    if (s == SDC_OK)
        s = sdc_pipeline_control_picture(c, 8 * pc->w, 8 * pc->h, &picture);
    if (s == SDC_OK) {
        int c0, sh, sw;
        sdc_unet_skip_shape(unet, 0, pc->h, pc->w, &c0, &sh, &sw);
        pc->hints[i] = malloc((size_t)c0 * pc->h * pc->w * sizeof(float));
        s = pc->hints[i] ? sdc_controlnet_hint(pc->nets[i], picture, pc->h, pc->w, pc->hints[i])
                         : sdc_fail(SDC_ERR_NOMEM, "out of memory for a ControlNet hint");
    }
    free(picture);
    return s;
}

sdc_status sdc_pipeline_control_prepare(const sdc_generate_params *p, const sdc_unet *unet,
                                        int h, int w, int rows, int prompt_rows,
                                        sdc_pipeline_control *pc)
{
    memset(pc, 0, sizeof *pc);
    if (p->control_count == 0)
        return SDC_OK;
    if (8 * h != p->height || 8 * w != p->width)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "ControlNet needs a model with 8x8-pixel latents");
    pc->rows = rows, pc->prompt_rows = prompt_rows, pc->h = h, pc->w = w;
    pc->context_dim = sdc_unet_context_dim(unet);
    pc->label_dim = sdc_unet_label_dim(unet);
    sdc_status s = read_specs(p, pc);
    if (s == SDC_OK)
        s = residual_buffers(pc, unet);
    for (int i = 0; s == SDC_OK && i < pc->count; i++)
        s = net_prepare(pc, i, unet);
    if (s != SDC_OK)
        sdc_pipeline_control_free(pc);
    return s;
}

/* diffusers' controlnet_keep: 0 when the call lies outside the window. The window is a
 * float; a margin keeps 0.7f (0.69999999) meaning 0.7 as Python's float does. */
static int active(const sdc_control *c, int call, int calls)
{
    const double margin = 1e-6;
    return !((double)call / calls < c->start - margin ||
             (double)(call + 1) / calls > c->end + margin);
}

sdc_status sdc_pipeline_control_pack(sdc_pipeline_control *pc, int on)
{
    sdc_status s = SDC_OK;
    for (int i = 0; i < pc->count && s == SDC_OK; i++)
        s = sdc_controlnet_pack_weights(pc->nets[i], on);
    return s;
}

/* Net i on the batch (or, guessing with guidance, on the prompt's rows only: the negative
 * row, last, keeps zero residuals). */
static sdc_status run_net(sdc_pipeline_control *pc, int i, const float *x, float t,
                          const sdc_unet_cond *c)
{
    const sdc_control *spec = &pc->spec[i];
    int guess = spec->guess_mode && pc->prompt_rows < pc->rows;
    int B = guess ? pc->prompt_rows : pc->rows;
    float scale[SDC_UNET_MAX_RESIDUALS];
    float *res[SDC_UNET_MAX_RESIDUALS];
    for (int k = 0; k < pc->n_res; k++) {
        double g = spec->guess_mode ? pow(10.0, -1.0 + (double)k / (pc->n_res - 1)) : 1.0;
        scale[k] = (float)(g * spec->strength);
        res[k] = pc->res[k];
    }
    sdc_unet_cond nc = {.context = c->context, .tokens = c->tokens, .label = c->label};
    return sdc_controlnet_forward(pc->nets[i], x, B, pc->h, pc->w, t, &nc, pc->hints[i], scale,
                                  res);
}

sdc_status sdc_pipeline_control_residuals(sdc_pipeline_control *pc, const float *x, float t,
                                          const sdc_unet_cond *c, int call, int calls,
                                          const float *const **out)
{
    *out = NULL;
    int any = 0;
    for (int i = 0; i < pc->count; i++) {
        if (!active(&pc->spec[i], call, calls))
            continue;
        if (!any)
            for (int k = 0; k < pc->n_res; k++)
                memset(pc->res[k], 0, (size_t)pc->rows * pc->res_row[k] * sizeof(float));
        any = 1;
        sdc_status s = run_net(pc, i, x, t, c);
        if (s != SDC_OK)
            return s;
    }
    if (any)
        *out = (const float *const *)pc->res;
    return SDC_OK;
}
