/* What the LoRA files' parts have in common inside lora/: one adapter of a file (all the
 * tensors that change one layer), before it is resolved against a model. */
#ifndef SDC_LORA_LORA_IMPL_H
#define SDC_LORA_LORA_IMPL_H

#include "ops/layer.h"
#include "weights/safetensors.h"

typedef enum sdc_lora_component {
    SDC_LORA_TE,   /* the (first) text encoder: lora_te_, lora_te1_ (SDXL's CLIP-L) */
    SDC_LORA_UNET,
    SDC_LORA_TE2,  /* SDXL's second text encoder (OpenCLIP bigG): lora_te2_ */
} sdc_lora_component;

typedef enum sdc_lora_kind {
    SDC_LORA_KIND_LORA,   /* down / up (LoRA, LoCon) */
    SDC_LORA_KIND_TUCKER, /* down / mid / up */
    SDC_LORA_KIND_LOHA,   /* hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b */
    SDC_LORA_KIND_LOKR,   /* lokr_w1 (or _a/_b), lokr_w2 (or _a/_b) */
    SDC_LORA_KIND_DIFF,   /* the full difference */
} sdc_lora_kind;

/* Tensor slots of an adapter; which ones a kind uses is listed above. */
enum {
    LORA_DOWN, LORA_UP, LORA_MID, LORA_ALPHA,
    HADA_W1A, HADA_W1B, HADA_W2A, HADA_W2B,
    LOKR_W1, LOKR_W1A, LOKR_W1B, LOKR_W2, LOKR_W2A, LOKR_W2B,
    LORA_DIFF,
    LORA_SLOTS
};

typedef struct sdc_lora_adapter {
    sdc_lora_component component;
    char *module;                         /* diffusers / HF module path (owned) */
    const sdc_st_entry *part[LORA_SLOTS]; /* views of the file's tensors, NULL when absent */
} sdc_lora_adapter;

typedef enum sdc_lora_layout { SDC_LORA_KOHYA, SDC_LORA_PEFT, SDC_LORA_DIFFUSERS_OLD } sdc_lora_layout;

/* Splits tensor `name` into component, module path (written to module, cap bytes) and slot.
 * Returns 1 on success, 0 when the name is not one of `layout`'s adapter tensors. */
int sdc_lora_parse_key(sdc_lora_layout layout, const char *name, sdc_lora_component *component,
                       char *module, size_t cap, int *slot);
/* The layout of a file from its first tensor name that fits one; -1 when none does. */
int sdc_lora_detect_layout(const sdc_safetensors *st);

/* kohya's flattened module path ("down_blocks_0_attentions_0_proj_in") -> the dotted one
 * ("down_blocks.0.attentions.0.proj_in"). Returns 1, or 0 when it does not fit. */
int sdc_lora_kohya_module(const char *flat, char *dst, size_t cap);

/* The kind of an adapter from the slots it has, or -1 when they make no known kind. */
int sdc_lora_adapter_kind(const sdc_lora_adapter *a);
/* scale = alpha / dim (1 without alpha or without a rank) of the adapter; fails on a
 * non-finite or malformed alpha. */
sdc_status sdc_lora_scale(const sdc_lora_adapter *a, int kind, const char *path, float *scale);
/* delta [l->w.rows, l->w.cols] (f32, caller frees) of adapter `a` for layer `l`, every shape
 * checked against the layer; messages name `path` and the module. */
sdc_status sdc_lora_delta(const sdc_lora_adapter *a, int kind, const sdc_layer *l,
                          const char *path, float **delta);
/* A run-time adapter (views of the file) for a plain LoRA / LoCon, shapes checked. */
sdc_status sdc_lora_runtime_adapter(const sdc_lora_adapter *a, const sdc_layer *l,
                                    const char *path, float scale, sdc_adapter **out);

/* The adapters of an open file in `layout`, grouped by module (in file order of their first
 * tensor). Tensors of no adapter are counted in *unparsed, the first one named in
 * *first_unparsed. Caller frees with sdc_lora_adapters_free. */
sdc_status sdc_lora_read_adapters(const sdc_safetensors *st, sdc_lora_layout layout,
                                  sdc_lora_adapter **out, size_t *count, size_t *unparsed,
                                  const char **first_unparsed);
void sdc_lora_adapters_free(sdc_lora_adapter *a, size_t count);

/* Structure of the UNet that the diffusers -> LDM numbering needs, read off its layer table. */
#include "weights/layer_table.h"
#include "weights/name_rules.h"
void sdc_lora_unet_hints(const sdc_layer_table *unet, sdc_diffusers_hints *h);
/* The layer adapter `a` changes, or NULL when the model has none of that name. */
#include "lora/lora.h"
sdc_layer *sdc_lora_target(const sdc_lora_targets *t, const sdc_diffusers_hints *h,
                           const sdc_lora_adapter *a);

#endif
