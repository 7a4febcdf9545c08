/* ControlNets of one generation (sdc_generate_params.controls): their nets loaded, control
 * pictures prepared and hint encodings made once, then per UNet call the summed residuals of
 * the nets whose guidance window covers the call. */
#ifndef SDC_PIPELINE_CONTROL_H
#define SDC_PIPELINE_CONTROL_H

#include "control/controlnet.h"
#include "sdc.h"

typedef struct sdc_pipeline_control {
    int count;
    sdc_control *spec;      /* [count] the caller's entries over this version's defaults */
    sdc_controlnet **nets;  /* [count] */
    float **hints;          /* [count] [C0, h, w] */
    int n_res;              /* skip tensors + 1 */
    float **res;            /* [n_res] summed residuals [rows, C_i, h_i, w_i] */
    size_t *res_row;        /* [n_res] floats per row */
    int rows, prompt_rows, h, w, context_dim, label_dim;
} sdc_pipeline_control;

/* Nothing to do (count 0) without controls. The control pictures are checked,
 * preprocessed and stretched to p->width x p->height; each net must fit `unet`. */
sdc_status sdc_pipeline_control_prepare(const sdc_generate_params *p, const sdc_unet *unet,
                                        int h, int w, int rows, int prompt_rows,
                                        sdc_pipeline_control *pc);
/* Packed bf16 weights for every net (sdc_controlnet_pack_weights), on or off. */
sdc_status sdc_pipeline_control_pack(sdc_pipeline_control *pc, int on);
/* *out = the summed residuals for UNet call `call` of `calls` (sdc_unet_cond.residuals), or
 * NULL when no net is active then; x [rows, 4, h, w] is the UNet's latent input and c its
 * conditioning (context rows: the prompt's prompt_rows, then the negative when guided). */
sdc_status sdc_pipeline_control_residuals(sdc_pipeline_control *pc, const float *x, float t,
                                          const sdc_unet_cond *c, int call, int calls,
                                          const float *const **out);
void sdc_pipeline_control_free(sdc_pipeline_control *pc);

/* The control picture as the net sees it: spec's picture preprocessed and stretched to
 * width x height, planar [3, height, width] in 0..1 (malloc'd). */
sdc_status sdc_pipeline_control_picture(const sdc_control *spec, int width, int height,
                                        float **out);

/* ", ControlNet 0: \"Module: ..., Model: name [hash], Weight: ...\"" for each net of p
 * (pipeline/control_text.c), malloc'd; NULL without ControlNets. */
char *sdc_pipeline_control_text(const sdc_generate_params *p);

#endif
