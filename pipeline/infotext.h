/* AUTOMATIC1111's generation parameters text (PNG 'parameters', sdc's included) read back:
 *
 *   <prompt, one or more lines>
 *   Negative prompt: <negative, one or more lines>
 *   Steps: 20, Sampler: Euler a, Lora hashes: "a: 0123, b: 4567", ...
 *
 * as AUTOMATIC1111's parse_generation_parameters does: the last line holds the settings
 * when at least three `Key: value` pairs are found in it (a value is a JSON string in
 * quotes, or runs to the next comma), else it is part of the prompt; every line is trimmed. */
#ifndef SDC_PIPELINE_INFOTEXT_H
#define SDC_PIPELINE_INFOTEXT_H

#include <stddef.h>

#include "sdc.h"

typedef struct sdc_infotext {
    char *prompt;   /* "" when none */
    char *negative; /* "" when none */
    size_t count;   /* settings, in the text's order */
    char **keys, **values;
} sdc_infotext;

sdc_status sdc_infotext_parse(const char *text, sdc_infotext *out);
/* The value of the last setting named key, or NULL. */
const char *sdc_infotext_get(const sdc_infotext *t, const char *key);
void sdc_infotext_free(sdc_infotext *t);

#endif
