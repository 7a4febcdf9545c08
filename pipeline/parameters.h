/* The AUTOMATIC1111 'parameters' text stored in PNGs, so other tools (and sdc metadata)
 * read back how an image was made:
 *   <prompt>
 *   Negative prompt: <negative>
 *   Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 42,
 *   Size: 512x512, Model hash: 0123456789, Model: name, RNG: CPU, ... */
#ifndef SDC_PIPELINE_PARAMETERS_H
#define SDC_PIPELINE_PARAMETERS_H

#include "sdc.h"

/* Returns a malloc'd string, or NULL when out of memory. model_path may be a file or
 * folder (its base name without extension is recorded); lora_hashes and ti_hashes ("name:
 * hash, ...") are NULL without LoRAs / used embeddings; controls (", ControlNet 0: ...", NULL
 * without ControlNets) is appended before the version. */
char *sdc_parameters_text(const sdc_generate_params *g, const char *model_path,
                          const char *model_hash, const char *lora_hashes,
                          const char *ti_hashes, const char *controls);

/* A model file's (or folder's) name as the text records it: the base name without its
 * extension, control characters escaped (a file named "a\nSteps: 99" cannot forge a line). */
void sdc_parameters_file_name(const char *path, char *buf, size_t size);

#endif
