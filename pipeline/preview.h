/* Live previews of the sampling loop (sdc_generate_params.preview*): the step's denoised
 * prediction x0, decoded as the mode says and handed to the caller's preview_fn. */
#ifndef SDC_PIPELINE_PREVIEW_H
#define SDC_PIPELINE_PREVIEW_H

#include <stdint.h>

#include "pipeline/pipeline_impl.h"
#include "vae/latent_rgb.h"

typedef struct sdc_pipeline_preview {
    sdc_preview_mode mode; /* SDC_PREVIEW_NONE: everything below is unused */
    int interval;          /* sampling steps between previews */
    int steps_done;        /* sampling steps completed (a second-order step counts once) */
    int h, w;              /* latent size; the preview is h x w (proj) or 8h x 8w (tae, vae) */
    int tiled;             /* decode in tiles, as the final decode does */
    sdc_latent_rgb map;    /* proj: the family's map */
    float *x0;             /* [4, h, w] the denoised prediction of the current call */
    float *image;          /* vae: [3, H, W] decoded pixels */
    uint8_t *rgb;          /* [height, width, 3] what preview_fn gets */
    int width, height;
} sdc_pipeline_preview;

/* Validates p's preview fields against the model and allocates the buffers for a latent of
 * h x w (pv zeroed and left off when p asks for no previews). Frees what it took on error. */
sdc_status sdc_pipeline_preview_prepare(const sdc_model *m, const sdc_generate_params *p,
                                        int h, int w, int tiled, sdc_pipeline_preview *pv);
void sdc_pipeline_preview_free(sdc_pipeline_preview *pv);

/* After a sampling call whose x0 is in pv->x0: counts a finished step (not mid-step) and
 * shows every interval-th one and the last (step == steps), decoded with m's decoder.
 * SDC_ERR_INTERRUPTED when preview_fn asks to stop. */
sdc_status sdc_pipeline_preview_step(sdc_pipeline_preview *pv, sdc_model *m,
                                     const sdc_generate_params *p, int mid_step, int step,
                                     int steps);

#endif
