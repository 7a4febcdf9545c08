/* The pictures a generation starts from (-i, --mask, --outpaint), shared by `sdc` and
 * `sdc batch`. */
#ifndef SDC_CMD_INPUTS_H
#define SDC_CMD_INPUTS_H

#include "cmd/options.h"
#include "image/image.h"

typedef struct sdc_cli_inputs {
    sdc_image init; /* pixels NULL for txt2img */
    sdc_image mask; /* pixels NULL without a mask */
    float *depth;   /* --depth-map [depth_height, depth_width], or NULL */
    sdc_image controls[SDC_CLI_MAX_CONTROLS];     /* the --control-image pictures */
    sdc_control control_files[SDC_CLI_MAX_CONTROLS]; /* what g->controls points at */
} sdc_cli_inputs;

/* Loads the ControlNets' control pictures (g->controls then points into `in`), the init image and mask (resized to the image, not yet blurred), grows the canvas for
 * --outpaint, takes the output size from the picture when -W / -H were not given (rounded to
 * multiples of 8), and points g's init / mask fields at the result. Warns on stderr (unless
 * quiet) when the mask repaints nothing. */
sdc_status sdc_cli_inputs_load(const sdc_cli_options *o, sdc_generate_params *g,
                               sdc_cli_inputs *in);
/* What the loaded model changes: its recipe's steps, CFG, sampler and scheduler where none
 * were given (cmd/recipe.h); the x4 upscaler's output is 4x its picture unless -W / -H
 * say otherwise (rounded down to multiples of 8). */
void sdc_cli_inputs_fit_model(const sdc_cli_options *o, sdc_generate_params *g,
                              const sdc_cli_inputs *in, sdc_model *model);
void sdc_cli_inputs_free(sdc_cli_inputs *in);

/* Width and height of the picture sdc_generate writes for g. */
void sdc_cli_output_size(const sdc_generate_params *g, int *width, int *height);

#endif
