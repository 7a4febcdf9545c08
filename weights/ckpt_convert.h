/* Rewrites any checkpoint sdc opens (single .safetensors, .ckpt, diffusers folder) as one
 * single-file .safetensors in LDM naming:
 *
 *   single files, .ckpt   every tensor under its own name (nothing dropped or renamed)
 *   diffusers folders     model.diffusion_model.<unet> , first_stage_model.<vae> (attention
 *                         projections as [C, C, 1, 1] convs), cond_stage_model.transformer.
 *                         <text encoder in Hugging Face naming> for SD 1.x and SD 2.x alike:
 *                         the SD 2.x folder's text encoder already lacks OpenCLIP's last
 *                         layer, and sdc conditions on the last stored layer of HF-named
 *                         encoders, so the converted file behaves exactly like the folder
 *
 * A prediction type that the source states (scheduler config, file metadata) is kept as
 * "modelspec.prediction_type" metadata. Tensors are ordered by element size, largest first,
 * so every tensor stays aligned for its dtype. The output appears complete or not at all
 * (temporary file in the same folder, flushed, renamed). */
#ifndef SDC_WEIGHTS_CKPT_CONVERT_H
#define SDC_WEIGHTS_CKPT_CONVERT_H

#include <stddef.h>
#include <stdio.h>

#include "sdc.h"

typedef struct sdc_convert_params {
    int dtype;            /* an sdc_dtype (F32, F16, BF16) for float tensors, -1 = keep */
    int overwrite;        /* replace an existing output file */
    sdc_progress_fn progress; /* stage "converting", step = tensors written; non-zero stops */
    void *user_data;
} sdc_convert_params;

sdc_convert_params sdc_convert_default_params(void);

/* Converts `in` into `out`; *tensors (may be NULL) receives the number written. */
sdc_status sdc_checkpoint_convert(const char *in, const char *out,
                                  const sdc_convert_params *params, size_t *tensors);

/* Writes `out` completely or not at all: write(f, ctx) fills a temporary file in the same
 * folder, which is flushed and renamed into place (without overwrite, an existing `out` is
 * refused). Used by every converter. */
sdc_status sdc_write_atomically(const char *out, int overwrite,
                                sdc_status (*write)(FILE *f, void *ctx), void *ctx);

#endif
