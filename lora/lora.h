/* LoRA / LyCORIS adapter files applied to a loaded model through its layer tables
 * (weights/layer_table.h). An sdc_lora_stack remembers everything it changed, so clearing it
 * gives every layer back its original weight (the same view of the mapped checkpoint, bit
 * for bit) and drops its run-time adapters.
 *
 *   sdc_lora_stack *s;
 *   sdc_lora_stack_create(&(sdc_lora_targets){.te = te_table, .unet = unet_table},
 *                         SDC_LORA_MERGE, &s);
 *   sdc_lora_apply(s, "loras/style.safetensors", 0.8f, 0.8f);   // several files add
 *   ... run the model ...
 *   sdc_lora_stack_free(s);                                     // restores the model
 *
 * Formats (detected from the tensor names): kohya-ss / LyCORIS `lora_unet_*` / `lora_te_*`
 * (LoRA, LoCon, Tucker `lora_mid`, LoHa `hada_*`, LoKr `lokr_*`, full `diff`), diffusers
 * PEFT `unet.*.lora_A.weight` / `text_encoder.*`, and the old diffusers attention-processor
 * names `*.to_q_lora.down.weight`. */
#ifndef SDC_LORA_LORA_H
#define SDC_LORA_LORA_H

#include <stddef.h>

#include "sdc.h"
#include "weights/layer_table.h"

typedef struct sdc_lora_targets {
    sdc_layer_table *te;   /* the text encoder's layers (HF names), or NULL */
    sdc_layer_table *unet; /* the UNet's layers (LDM names), or NULL */
    sdc_layer_table *te2;  /* SDXL's second text encoder (HF names), or NULL */
} sdc_lora_targets;

typedef enum sdc_lora_mode {
    /* changed layers get an owned f32 copy W + sum multiplier * scale * delta */
    SDC_LORA_MERGE,
    /* plain LoRA / LoCon become run-time adapters on the layer (no copy of W); LoHa, LoKr,
     * Tucker and full differences have no low-rank form there and are merged */
    SDC_LORA_RUNTIME,
} sdc_lora_mode;

typedef struct sdc_lora_stack sdc_lora_stack;

sdc_status sdc_lora_stack_create(const sdc_lora_targets *targets, sdc_lora_mode mode,
                                 sdc_lora_stack **out);
/* Adds the adapters of `path` at the given multipliers (a multiplier of 0 leaves that model
 * untouched). Adapters for layers the model lacks are skipped and counted; a file none of
 * whose adapters names one is refused (SDC_ERR_UNSUPPORTED: another model family). A file that fails half-way cannot be taken out of merged copies it shares with
 * earlier files, so on failure the whole stack is dropped: the model is back to its original
 * weights and the stack empty. */
sdc_status sdc_lora_apply(sdc_lora_stack *s, const char *path, float te_multiplier,
                          float unet_multiplier);
/* Adapters of the applied files whose target layer the model does not have (skipped, as
 * AUTOMATIC1111 does), and the first such tensor name (NULL when none). */
size_t sdc_lora_unmatched(const sdc_lora_stack *s, const char **first);
/* Bytes of owned f32 weight copies the merges made. */
size_t sdc_lora_merged_bytes(const sdc_lora_stack *s);
/* AUTOMATIC1111's short hash of a LoRA file (PNG `Lora hashes`): the first 12 hex digits of
 * the SHA-256 of the file after its safetensors header. */
sdc_status sdc_lora_short_hash(const char *path, char hex[13]);
/* Restores every changed layer and frees the stack (NULL is fine). */
void sdc_lora_stack_free(sdc_lora_stack *s);

#endif
