#include "weights/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "weights/safetensors.h"

/* Single-file LDM prefixes of each component. */
static const char *const ldm_prefix[SDC_COMPONENT_COUNT] = {
    [SDC_COMPONENT_UNET] = "model.diffusion_model.",
    [SDC_COMPONENT_VAE] = "first_stage_model.",
    [SDC_COMPONENT_TEXT] = "cond_stage_model.transformer.",
};

struct sdc_checkpoint {
    char *path;
    sdc_layout layout;
    sdc_family family;
    sdc_prediction prediction;
    int unet_in_channels;
    sdc_safetensors *file;
};

const char *sdc_family_name(sdc_family family)
{
    switch (family) {
    case SDC_FAMILY_SD1: return "sd1";
    case SDC_FAMILY_SD2: return "sd2";
    case SDC_FAMILY_SDXL: return "sdxl";
    case SDC_FAMILY_UNKNOWN: break;
    }
    return "unknown";
}

const char *sdc_component_name(sdc_component component)
{
    switch (component) {
    case SDC_COMPONENT_UNET: return "unet";
    case SDC_COMPONENT_VAE: return "vae";
    case SDC_COMPONENT_TEXT: return "text encoder";
    case SDC_COMPONENT_COUNT: break;
    }
    return "?";
}

sdc_status sdc_checkpoint_open(const char *path, sdc_checkpoint **out)
{
    *out = NULL;
    sdc_checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck || !(ck->path = strdup(path))) {
        free(ck);
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    }
    sdc_status s = sdc_safetensors_open(path, &ck->file);
    if (s != SDC_OK) {
        sdc_checkpoint_close(ck);
        return s;
    }
    ck->layout = SDC_LAYOUT_SINGLE_FILE;
    ck->family = SDC_FAMILY_SD1;
    ck->prediction = SDC_PREDICTION_EPS;
    const sdc_tensor *conv_in = sdc_checkpoint_get(ck, SDC_COMPONENT_UNET, "input_blocks.0.0.weight");
    ck->unet_in_channels = conv_in ? (int)conv_in->shape[1] : 4;
    *out = ck;
    return SDC_OK;
}

void sdc_checkpoint_close(sdc_checkpoint *ck)
{
    if (!ck)
        return;
    sdc_safetensors_close(ck->file);
    free(ck->path);
    free(ck);
}

const sdc_tensor *sdc_checkpoint_get(const sdc_checkpoint *ck, sdc_component component,
                                     const char *name)
{
    char full[512];
    if ((unsigned)component >= SDC_COMPONENT_COUNT ||
        snprintf(full, sizeof full, "%s%s", ldm_prefix[component], name) >= (int)sizeof full)
        return NULL;
    const sdc_st_entry *e = sdc_safetensors_find(ck->file, full);
    return e ? &e->tensor : NULL;
}

sdc_status sdc_checkpoint_require(const sdc_checkpoint *ck, sdc_component component,
                                  const char *name, const sdc_tensor **out)
{
    *out = sdc_checkpoint_get(ck, component, name);
    if (!*out)
        return sdc_fail(SDC_ERR_FORMAT, "%s: %s tensor '%s' is missing", ck->path,
                        sdc_component_name(component), name);
    return SDC_OK;
}

const char *sdc_checkpoint_path(const sdc_checkpoint *ck) { return ck->path; }
sdc_layout sdc_checkpoint_layout(const sdc_checkpoint *ck) { return ck->layout; }
sdc_family sdc_checkpoint_family(const sdc_checkpoint *ck) { return ck->family; }
sdc_prediction sdc_checkpoint_prediction(const sdc_checkpoint *ck) { return ck->prediction; }
int sdc_checkpoint_unet_in_channels(const sdc_checkpoint *ck) { return ck->unet_in_channels; }
const char *sdc_checkpoint_tokenizer_dir(const sdc_checkpoint *ck) { (void)ck; return NULL; }
