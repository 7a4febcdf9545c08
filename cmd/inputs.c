/* Init image, mask and outpainting canvas for a generation (see inputs.h). */
#include "cmd/inputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/recipe.h"
#include "image/mask.h"
#include "image/outpaint.h"

void sdc_cli_inputs_free(sdc_cli_inputs *in)
{
    sdc_image_free(&in->init);
    sdc_image_free(&in->mask);
    free(in->depth);
    in->depth = NULL;
    for (int i = 0; i < SDC_CLI_MAX_CONTROLS; i++)
        sdc_image_free(&in->controls[i]);
}

static sdc_status load_controls(const sdc_cli_options *o, sdc_generate_params *g,
                                sdc_cli_inputs *in)
{
    for (int i = 0; i < o->control_count; i++) {
        sdc_status s = sdc_image_load(o->controls[i].image, &in->controls[i], NULL);
        if (s != SDC_OK)
            return s;
    }
    sdc_cli_controls(o, in->controls, in->control_files, g);
    return SDC_OK;
}

static int mask_is_empty(const sdc_image *mask)
{
    for (size_t i = 0; i < (size_t)mask->width * mask->height; i++)
        if (mask->pixels[i] >= 128)
            return 0;
    return 1;
}

static int outpainting(const sdc_cli_options *o)
{
    return o->outpaint[0] || o->outpaint[1] || o->outpaint[2] || o->outpaint[3];
}

/* Replaces init and mask with the padded canvas and its border mask. Without -W / -H the
 * right and bottom borders grow to reach multiples of 8, so the original pixels need no
 * resampling. */
static sdc_status outpaint(const sdc_cli_options *o, sdc_cli_inputs *in)
{
    int pad[4] = {o->outpaint[0], o->outpaint[1], o->outpaint[2], o->outpaint[3]};
    if (!o->width_given)
        pad[2] += (8 - (in->init.width + pad[0] + pad[2]) % 8) % 8;
    if (!o->height_given)
        pad[3] += (8 - (in->init.height + pad[1] + pad[3]) % 8) % 8;
    sdc_image canvas, mask;
    sdc_status s = sdc_outpaint_canvas(&in->init, in->mask.pixels ? &in->mask : NULL, pad,
                                       o->outpaint_noise ? SDC_OUTPAINT_NOISE : SDC_OUTPAINT_EDGE,
                                       o->gen.seed, &canvas, &mask);
    if (s != SDC_OK)
        return s;
    sdc_image_free(&in->init);
    sdc_image_free(&in->mask);
    in->init = canvas;
    in->mask = mask;
    return SDC_OK;
}

static int round_down8(int v) { return v >= 16 ? v / 8 * 8 : 8; }

sdc_status sdc_cli_inputs_load(const sdc_cli_options *o, sdc_generate_params *g,
                               sdc_cli_inputs *in)
{
    memset(in, 0, sizeof *in);
    sdc_status cs = load_controls(o, g, in);
    if (cs != SDC_OK) {
        sdc_cli_inputs_free(in);
        return cs;
    }
    if (o->depth_map) {
        sdc_status s = sdc_depth_map_read(o->depth_map, &in->depth, &g->depth_width,
                                          &g->depth_height);
        if (s != SDC_OK)
            return s;
        g->depth_map = in->depth;
    }
    if (!o->init_img)
        return SDC_OK;
    sdc_status s = sdc_image_load(o->init_img, &in->init, NULL);
    if (s == SDC_OK && o->mask)
        s = sdc_mask_load(o->mask, o->invert_mask, 0.0f, in->init.width, in->init.height,
                          &in->mask);
    if (s == SDC_OK && outpainting(o))
        s = outpaint(o, in);
    if (s != SDC_OK) {
        sdc_cli_inputs_free(in);
        return s;
    }
    g->init_rgb = in->init.pixels;
    g->init_width = in->init.width;
    g->init_height = in->init.height;
    g->mask = in->mask.pixels;
    g->mask_blur = o->mask_blur;
    if (g->inpaint_area != SDC_INPAINT_MASKED) {
        if (!o->width_given)
            g->width = round_down8(in->init.width);
        if (!o->height_given)
            g->height = round_down8(in->init.height);
    }
    if (in->mask.pixels && !o->quiet && mask_is_empty(&in->mask))
        fprintf(stderr, "sdc: warning: %s marks nothing to repaint (no pixel >= 128%s); the "
                "output is the init image\n", o->mask,
                o->invert_mask ? " after --invert-mask" : "");
    return SDC_OK;
}

void sdc_cli_inputs_fit_model(const sdc_cli_options *o, sdc_generate_params *g,
                              const sdc_cli_inputs *in, sdc_model *model)
{
    sdc_cli_apply_recipe(o, model, g); /* with a loaded model it cannot fail */
    if (!in->init.pixels || strcmp(sdc_model_family_name(model), "sd2-x4-upscaler") != 0)
        return;
    if (!o->width_given)
        g->width = round_down8(4 * in->init.width);
    if (!o->height_given)
        g->height = round_down8(4 * in->init.height);
}

void sdc_cli_output_size(const sdc_generate_params *g, int *width, int *height)
{
    sdc_generate_output_size(g, width, height);
}
