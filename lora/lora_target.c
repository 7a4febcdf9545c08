/* Adapter module -> layer of the loaded model. Text-encoder modules are Hugging Face CLIP
 * names, which the text encoder's table uses as they are; UNet modules are diffusers paths,
 * turned into the LDM names of the UNet's table by the same rules that read diffusers
 * folders (weights/diffusers_names.c), unless they are LDM names already (kohya's SDXL
 * files). */
#include <stdio.h>
#include <string.h>

#include "lora/lora_impl.h"

void sdc_lora_unet_hints(const sdc_layer_table *unet, sdc_diffusers_hints *h)
{
    sdc_diffusers_hints_init(h);
    int per = 0; /* LDM blocks per level = the index of the first downsampler */
    for (size_t i = 0; unet && i < unet->count; i++) {
        int ix[2];
        const char *rest;
        if (sdc_name_match(unet->entries[i].name, "input_blocks.#.0.op", ix, &rest) &&
            (per == 0 || ix[0] < per))
            per = ix[0];
    }
    if (per < 2)
        return; /* one level: the defaults never get used */
    h->unet_layers_per_block = per - 1;
    for (size_t i = 0; i < unet->count; i++) {
        int ix[2];
        const char *rest;
        if (sdc_name_match(unet->entries[i].name, "output_blocks.#.1.proj_in", ix, &rest) &&
            ix[0] / per < 32)
            h->unet_up_attn |= 1u << (ix[0] / per);
    }
}

sdc_layer *sdc_lora_target(const sdc_lora_targets *t, const sdc_diffusers_hints *h,
                           const sdc_lora_adapter *a)
{
    if (a->component != SDC_LORA_UNET) {
        sdc_layer_table *te = a->component == SDC_LORA_TE ? t->te : t->te2;
        return te ? sdc_layer_table_find(te, a->module) : NULL;
    }
    if (!t->unet)
        return NULL;
    sdc_layer *direct = sdc_layer_table_find(t->unet, a->module); /* kohya SDXL: LDM names */
    if (direct)
        return direct;
    char diffusers[300], ldm[300];
    int n = snprintf(diffusers, sizeof diffusers, "%s.weight", a->module);
    if (n <= 0 || (size_t)n >= sizeof diffusers ||
        sdc_diffusers_unet_name(h, diffusers, ldm, sizeof ldm) != 1)
        return NULL;
    size_t len = strlen(ldm);
    if (len < 7 || strcmp(ldm + len - 7, ".weight") != 0)
        return NULL;
    ldm[len - 7] = '\0';
    return sdc_layer_table_find(t->unet, ldm);
}
