/* The extra networks of one generation: LoRAs (prompt tags and sdc_generate_params.loras)
 * applied to the base model before it runs, taken off afterwards, and named with their
 * hashes in the PNG parameters; textual-inversion embeddings (embd_dir) read for it. */
#ifndef SDC_PIPELINE_LORA_RUN_H
#define SDC_PIPELINE_LORA_RUN_H

#include "lora/lora.h"
#include "pipeline/pipeline_impl.h"

typedef struct sdc_pipeline_loras {
    sdc_lora_stack *stack; /* NULL when the generation has no LoRA */
    char *prompt;          /* the prompt without its tags (owned) */
} sdc_pipeline_loras;

/* Applies them to m (its cached conditioner dropped, as the text encoder changes). */
sdc_status sdc_pipeline_loras_apply(sdc_model *m, const sdc_generate_params *p,
                                    sdc_pipeline_loras *out);
/* Restores m exactly as it was loaded. */
void sdc_pipeline_loras_release(sdc_model *m, sdc_pipeline_loras *l);
/* `name: hash, name: hash` of every LoRA of p into *text (malloc'd), NULL when none. */
sdc_status sdc_pipeline_lora_hashes(const sdc_model *m, const sdc_generate_params *p,
                                    char **text);

/* The textual-inversion embeddings of one generation: for the text encoder and SDXL's
 * second one. */
typedef struct sdc_pipeline_embeddings {
    sdc_embedding_db first, second;
} sdc_pipeline_embeddings;

/* The textual-inversion embeddings of p->embd_dir for this generation (into *e, which m
 * points to until released; nothing when p->embd_dir is NULL). */
sdc_status sdc_pipeline_embeddings_load(sdc_model *m, const sdc_generate_params *p,
                                        sdc_pipeline_embeddings *e);
void sdc_pipeline_embeddings_release(sdc_model *m, sdc_pipeline_embeddings *e);
/* AUTOMATIC1111's `TI hashes` text ("name: hash, ..."; the first 12 hex digits of each
 * file's SHA-256) of the embeddings the prompt uses, then those the negative prompt uses;
 * *text NULL when none. */
sdc_status sdc_pipeline_ti_hashes(const sdc_model *m, const sdc_generate_params *p,
                                  char **text);

#endif
