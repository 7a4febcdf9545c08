/* An opened model checkpoint, whatever its layout, seen through one internal naming:
 *
 *   SDC_COMPONENT_UNET  LDM names without "model.diffusion_model."
 *                       (e.g. "input_blocks.1.1.proj_in.weight")
 *   SDC_COMPONENT_VAE   LDM names without "first_stage_model."
 *                       (e.g. "decoder.mid.attn_1.q.weight"; attention projections may be
 *                       [C,C,1,1] conv or [C,C] linear shaped: use the element count)
 *   SDC_COMPONENT_TEXT  Hugging Face CLIP names without a prefix
 *                       (e.g. "text_model.encoder.layers.0.self_attn.q_proj.weight"),
 *                       also for OpenCLIP single files, whose fused in_proj is split into
 *                       views without copying.
 *
 * Model code asks for tensors by these names and never sees the file layout. */
#ifndef SDC_WEIGHTS_CHECKPOINT_H
#define SDC_WEIGHTS_CHECKPOINT_H

#include "ops/tensor.h"
#include "sdc.h"

typedef enum sdc_component {
    SDC_COMPONENT_UNET,
    SDC_COMPONENT_VAE,
    SDC_COMPONENT_TEXT,
    SDC_COMPONENT_COUNT
} sdc_component;

typedef enum sdc_family {
    SDC_FAMILY_UNKNOWN,
    SDC_FAMILY_SD1,
    SDC_FAMILY_SD2,
    SDC_FAMILY_SDXL,
} sdc_family;

typedef enum sdc_prediction {
    SDC_PREDICTION_EPS,
    SDC_PREDICTION_V,
} sdc_prediction;

typedef enum sdc_layout {
    SDC_LAYOUT_SINGLE_FILE, /* LDM / CompVis single file */
    SDC_LAYOUT_DIFFUSERS,   /* diffusers folder */
} sdc_layout;

typedef struct sdc_checkpoint sdc_checkpoint;

/* Opens a single-file checkpoint or a diffusers folder. */
sdc_status sdc_checkpoint_open(const char *path, sdc_checkpoint **out);
void sdc_checkpoint_close(sdc_checkpoint *ck);

/* The tensor of `component` with internal name `name`, or NULL when absent. */
const sdc_tensor *sdc_checkpoint_get(const sdc_checkpoint *ck, sdc_component component,
                                     const char *name);
/* Like sdc_checkpoint_get, but a missing tensor is an error naming the file and tensor. */
sdc_status sdc_checkpoint_require(const sdc_checkpoint *ck, sdc_component component,
                                  const char *name, const sdc_tensor **out);

const char *sdc_checkpoint_path(const sdc_checkpoint *ck);
sdc_layout sdc_checkpoint_layout(const sdc_checkpoint *ck);
sdc_family sdc_checkpoint_family(const sdc_checkpoint *ck);
/* From the diffusers scheduler config when present; otherwise the family's default
 * (see docs: SD 2.x single files default to v when the UNet is 768-class, else eps). */
sdc_prediction sdc_checkpoint_prediction(const sdc_checkpoint *ck);
/* Input channels of the UNet (4; 9 for inpainting models). */
int sdc_checkpoint_unet_in_channels(const sdc_checkpoint *ck);
/* The diffusers folder's tokenizer directory (holding vocab.json + merges.txt), or NULL. */
const char *sdc_checkpoint_tokenizer_dir(const sdc_checkpoint *ck);

const char *sdc_family_name(sdc_family family);
const char *sdc_component_name(sdc_component component);

#endif
