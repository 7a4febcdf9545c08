/* AUTOMATIC1111's extra-network tags in a prompt: every `<word:args>` (its regex
 * `<(\w+):([^>]+)>`) is removed from the text before tokenising, and the `lora` ones,
 * `<lora:NAME:W>` or `<lora:NAME:W_TE:W_UNET>` (W defaults to 1, W_UNET to W_TE), name the
 * LoRAs of the generation. */
#ifndef SDC_PIPELINE_LORA_TAGS_H
#define SDC_PIPELINE_LORA_TAGS_H

#include "sdc.h"

typedef struct sdc_lora_tag {
    char *name; /* owned */
    float te, unet;
} sdc_lora_tag;

/* *stripped = prompt without its tags (malloc'd); *tags the lora ones in prompt order
 * (malloc'd, NULL when none). A weight that is not a number is an error naming the tag. */
sdc_status sdc_lora_tags_parse(const char *prompt, char **stripped, sdc_lora_tag **tags,
                               int *count);
void sdc_lora_tags_free(sdc_lora_tag *tags, int count);

#endif
