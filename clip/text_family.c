#include "clip/text_family.h"

#include "weights/name_rules.h"

enum { CLIP_PAD = 49407, OPENCLIP_PAD = 0 };

/* Highest N + 1 of "text_model.encoder.layers.N." in the component. */
static int stored_layers(const sdc_checkpoint *ck, sdc_component c)
{
    int layers = 0;
    size_t n = sdc_checkpoint_count(ck, c);
    for (size_t i = 0; i < n; i++) {
        int ix;
        const char *rest;
        if (sdc_name_match(sdc_checkpoint_name_at(ck, c, i, NULL), "text_model.encoder.layers.#.",
                           &ix, &rest) &&
            ix + 1 > layers)
            layers = ix + 1;
    }
    return layers;
}

sdc_text_family sdc_text_family_of(const sdc_checkpoint *ck, sdc_component c)
{
    sdc_text_said said = sdc_checkpoint_text_said(ck, c);
    sdc_family family = sdc_checkpoint_family(ck);
    int sdxl = family == SDC_FAMILY_SDXL;
    int openclip = c == SDC_COMPONENT_TEXT2 || family == SDC_FAMILY_SD2 ||
                   family == SDC_FAMILY_SD2_X4;
    sdc_text_family f = {.layers = stored_layers(ck, c), .final_norm = !sdxl};
    f.cond_layers = f.layers - ((sdxl || said.openclip_naming) && f.layers > 0);
    f.quick_gelu = said.quick_gelu >= 0 ? said.quick_gelu : !openclip;
    f.pad_token = said.pad_token >= 0 ? said.pad_token : openclip ? OPENCLIP_PAD : CLIP_PAD;
    return f;
}
