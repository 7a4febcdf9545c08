/* Model family, prediction type and stored text layers, from names, shapes and what the
 * layout readers found (the text encoders' family rules are in clip/text_family.c). The rules are documented in checkpoint.h and docs/formats.md. */
#include <string.h>

#include "weights/checkpoint_impl.h"
#include "weights/name_rules.h"

enum { SD2_CONTEXT = 1024, SDXL_CONTEXT = 2048 };

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Cross-attention context width: the input width of any attn2 key projection. */
static int context_dim(const sdc_ck_table *unet)
{
    for (size_t i = 0; i < unet->count; i++) {
        const sdc_ck_entry *e = &unet->entries[i];
        if (e->tensor.ndim == 2 && ends_with(e->name, ".attn2.to_k.weight"))
            return (int)e->tensor.shape[1];
    }
    return 0;
}

/* SD 2.x and SDXL project into the transformers with a linear layer, SD 1.x with a 1x1 conv. */
static int linear_proj_in(const sdc_ck_table *unet)
{
    for (size_t i = 0; i < unet->count; i++) {
        const sdc_ck_entry *e = &unet->entries[i];
        if (ends_with(e->name, ".proj_in.weight"))
            return e->tensor.ndim == 2;
    }
    return 0;
}

static int text_layers(const sdc_ck_table *text)
{
    int layers = 0;
    for (size_t i = 0; i < text->count; i++) {
        int ix;
        const char *rest;
        if (sdc_name_match(text->entries[i].name, "text_model.encoder.layers.#.", &ix, &rest) &&
            ix + 1 > layers)
            layers = ix + 1;
    }
    return layers;
}

static sdc_family detect_family(const sdc_checkpoint *ck)
{
    const sdc_ck_table *unet = &ck->tables[SDC_COMPONENT_UNET];
    if (sdc_ck_table_find(unet, "label_emb.weight")) /* the noise level's class table */
        return SDC_FAMILY_SD2_X4;
    if (ck->facts.sdxl_marker || sdc_ck_table_find(unet, "label_emb.0.0.weight") ||
        ck->context_dim == SDXL_CONTEXT)
        return SDC_FAMILY_SDXL;
    if (ck->facts.text[0].openclip_naming || ck->facts.text[0].quick_gelu == 0 ||
        linear_proj_in(unet) ||
        ck->context_dim == SD2_CONTEXT)
        return SDC_FAMILY_SD2;
    if (unet->count || ck->tables[SDC_COMPONENT_TEXT].count)
        return SDC_FAMILY_SD1;
    return SDC_FAMILY_UNKNOWN;
}

/* Real SD 2.x 768-v and 512-base single files have identical shapes: v is the default (the
 * more common download, and the one whose wrong guess gives garbage rather than a softer
 * image); inpainting (9) and depth (5) UNets of SD 2.x are eps models. */
static void detect_prediction(sdc_checkpoint *ck)
{
    if (ck->facts.prediction >= 0) {
        ck->prediction = (sdc_prediction)ck->facts.prediction;
        ck->prediction_source = ck->facts.prediction_source;
    } else if (ck->layout == SDC_LAYOUT_SINGLE_FILE && ck->family == SDC_FAMILY_SD2 &&
               ck->unet_in_channels == 4) {
        ck->prediction = SDC_PREDICTION_V;
        ck->prediction_source = "sd2 default";
    } else if (ck->family == SDC_FAMILY_SD2_X4) {
        ck->prediction = SDC_PREDICTION_V;
        ck->prediction_source = "x4 upscaler default";
    } else {
        ck->prediction = SDC_PREDICTION_EPS;
        ck->prediction_source = "default";
    }
}

void sdc_ck_detect(sdc_checkpoint *ck)
{
    const sdc_tensor *conv_in = sdc_checkpoint_get(ck, SDC_COMPONENT_UNET,
                                                   "input_blocks.0.0.weight");
    ck->unet_in_channels = conv_in && conv_in->ndim == 4 ? (int)conv_in->shape[1] : 4;
    ck->context_dim = context_dim(&ck->tables[SDC_COMPONENT_UNET]);
    ck->family = detect_family(ck);
    detect_prediction(ck);
    ck->text_layers = text_layers(&ck->tables[SDC_COMPONENT_TEXT]);
}
