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
#include "weights/checkpoint.h"

typedef struct sdc_convert_params {
    int dtype;            /* an sdc_dtype (F32, F16, BF16) for float tensors, -1 = keep */
    int overwrite;        /* replace an existing output file */
    sdc_progress_fn progress; /* stage "converting", step = tensors written; non-zero stops */
    void *user_data;
} sdc_convert_params;

sdc_convert_params sdc_convert_default_params(void);

/* One tensor of a conversion. */
typedef struct sdc_convert_item {
    char *name;            /* output name, owned */
    const sdc_tensor *src; /* view into the opened checkpoint (sdc_checkpoint_load first) */
    sdc_tensor out;        /* output dtype and shape (data unused) */
    size_t order;          /* position in the source, to keep sorts stable */
} sdc_convert_item;

typedef struct sdc_convert_plan {
    sdc_convert_item *items; /* owned */
    size_t count, capacity;
} sdc_convert_plan;

/* The tensors of an opened diffusers folder under their LDM names and shapes (see above),
 * float ones as `dtype` (-1 = keep), in the folder's order: what a conversion to a single
 * file writes, also the GGUF writer's source for a folder (gguf_write.h). *p starts zeroed
 * and is freed with sdc_convert_plan_free, also after a failure. */
sdc_status sdc_convert_plan_diffusers(const sdc_checkpoint *ck, int dtype, sdc_convert_plan *p);
void sdc_convert_plan_free(sdc_convert_plan *p);

/* Converts `in` into `out`; *tensors (may be NULL) receives the number written. */
sdc_status sdc_checkpoint_convert(const char *in, const char *out,
                                  const sdc_convert_params *params, size_t *tensors);

/* Writes `out` completely or not at all: write(f, ctx) fills a temporary file in the same
 * folder, which is flushed and renamed into place (without overwrite, an existing `out` is
 * refused). Used by every converter. */
sdc_status sdc_write_atomically(const char *out, int overwrite,
                                sdc_status (*write)(FILE *f, void *ctx), void *ctx);

#endif
