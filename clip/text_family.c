#include "clip/text_family.h"

enum { SD1_PAD = 49407, SD2_PAD = 0 };

sdc_text_family sdc_text_family_of(const sdc_checkpoint *ck)
{
    sdc_text_said said = sdc_checkpoint_text_said(ck);
    int sd2 = sdc_checkpoint_family(ck) == SDC_FAMILY_SD2;
    sdc_text_family f = {.layers = sdc_checkpoint_text_layers(ck)};
    f.cond_layers = f.layers - (said.openclip_naming && f.layers > 0);
    f.quick_gelu = said.quick_gelu >= 0 ? said.quick_gelu : !sd2;
    f.pad_token = said.pad_token >= 0 ? said.pad_token : sd2 ? SD2_PAD : SD1_PAD;
    return f;
}
