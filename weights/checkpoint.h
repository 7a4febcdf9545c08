/* An opened model checkpoint, whatever its layout, seen through one internal naming:
 *
 *   SDC_COMPONENT_UNET  LDM names without "model.diffusion_model."
 *                       (e.g. "input_blocks.1.1.proj_in.weight")
 *   SDC_COMPONENT_VAE   LDM names without "first_stage_model."
 *                       (e.g. "decoder.mid.attn_1.q.weight"; attention projections may be
 *                       [C,C,1,1] conv or [C,C] linear shaped: use the element count)
 *   SDC_COMPONENT_TEXT  Hugging Face CLIP names without a prefix
 *                       (e.g. "text_model.encoder.layers.0.self_attn.q_proj.weight"),
 *                       also for OpenCLIP single files, whose fused in_proj is split into
 *                       views without copying. A projection of the pooled output is
 *                       "text_projection.weight" [P, W] (Hugging Face) or "text_projection"
 *                       [W, P] (OpenCLIP, used as x @ text_projection).
 *   SDC_COMPONENT_TEXT2 SDXL's second text encoder (OpenCLIP ViT-bigG; the refiner's only
 *                       one), named as SDC_COMPONENT_TEXT.
 *
 * Model code asks for tensors by these names and never sees the file layout. Layouts:
 * single-file LDM/CompVis .safetensors and diffusers folders (unet/, vae/, text_encoder/,
 * possibly sharded, possibly .fp16. variants). docs/formats.md has the mapping rules.
 *
 * Tensors are views into read-only mappings owned by the checkpoint; they stay valid until
 * sdc_checkpoint_close (VAE tensors: until sdc_checkpoint_replace_vae, too). */
#ifndef SDC_WEIGHTS_CHECKPOINT_H
#define SDC_WEIGHTS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "ops/tensor.h"
#include "sdc.h"

typedef enum sdc_component {
    SDC_COMPONENT_UNET,
    SDC_COMPONENT_VAE,
    SDC_COMPONENT_TEXT,
    SDC_COMPONENT_TEXT2,
    SDC_COMPONENT_COUNT
} sdc_component;

typedef enum sdc_family {
    SDC_FAMILY_UNKNOWN,
    SDC_FAMILY_SD1,
    SDC_FAMILY_SD2,
    SDC_FAMILY_SDXL, /* base, refiner (bigG only), inpainting (9 channels) */
    SDC_FAMILY_SD2_X4, /* the SD 2 x4 upscaler: 7-channel UNet, noise-level class table */
    SDC_FAMILY_COUNT
} sdc_family;

typedef enum sdc_layout {
    SDC_LAYOUT_SINGLE_FILE, /* LDM / CompVis single file */
    SDC_LAYOUT_DIFFUSERS,   /* diffusers folder */
    SDC_LAYOUT_COUNT
} sdc_layout;

typedef struct sdc_checkpoint sdc_checkpoint;

/* Opens a single-file checkpoint or a diffusers folder (a directory holding
 * model_index.json). A file whose tensors belong to no known component still opens (family
 * unknown, every tensor unused); model code then reports the tensors it misses. */
sdc_status sdc_checkpoint_open(const char *path, sdc_checkpoint **out);
/* Opens a ControlNet: a single file in the original layout (keys with or without
 * "control_model.", .safetensors or a PyTorch .pth / .ckpt), or a diffusers ControlNetModel
 * folder or its weights file. Its tensors form the UNet component in LDM names: the encoder
 * (time_embed, input_blocks, middle_block) plus input_hint_block.*, zero_convs.N.0.* and
 * middle_block_out.0.*. A file without input_hint_block.0.weight is refused. */
sdc_status sdc_checkpoint_open_controlnet(const char *path, sdc_checkpoint **out);
void sdc_checkpoint_close(sdc_checkpoint *ck);

/* The tensor of `component` with internal name `name`, its data readable (a .ckpt's
 * compressed storage is inflated on this first use), or NULL when absent or when its data
 * cannot be produced (the message says why). O(1) after the first use. */
const sdc_tensor *sdc_checkpoint_get(const sdc_checkpoint *ck, sdc_component component,
                                     const char *name);
/* The tensor without making its data readable (NULL when absent): for its shape and dtype, or
 * the blocks of a quantised GGUF tensor (sdc_tensor_blocked), which are always readable. */
const sdc_tensor *sdc_checkpoint_peek(const sdc_checkpoint *ck, sdc_component component,
                                      const char *name);
/* Like sdc_checkpoint_get, but a missing tensor is an error naming the file and tensor. */
sdc_status sdc_checkpoint_require(const sdc_checkpoint *ck, sdc_component component,
                                  const char *name, const sdc_tensor **out);
/* Checks that all `count` names exist; otherwise one error listing how many are missing and
 * the first few of them. */
sdc_status sdc_checkpoint_check(const sdc_checkpoint *ck, sdc_component component,
                                const char *const *names, size_t count);

/* Iteration over a component's tensors (in no particular order). */
size_t sdc_checkpoint_count(const sdc_checkpoint *ck, sdc_component component);
/* Internal name of tensor `index` (< count), its tensor in *tensor when non-NULL: shape
 * and dtype only; call sdc_checkpoint_load before reading its data. */
const char *sdc_checkpoint_name_at(const sdc_checkpoint *ck, sdc_component component,
                                   size_t index, const sdc_tensor **tensor);
/* Makes t's data readable (see sdc_checkpoint_get); SDC_OK for data that always is. */
sdc_status sdc_checkpoint_load(const sdc_checkpoint *ck, const sdc_tensor *t);
/* Drops the component's mapped weight pages from the resident set until they are read again
 * (sdc_safetensors_release): the pipeline calls it when a stage is over, so that the UNet's
 * pages and the VAE decoder's activations are not resident at the same time. Returns the
 * bytes released; weights held in memory (converted .ckpt tensors) stay. */
size_t sdc_checkpoint_release(const sdc_checkpoint *ck, sdc_component component);
/* Maps the pages of [data, data + nbytes) now, in bulk, when the range lies in one of the
 * checkpoint's mapped files (sdc_safetensors_populate): a stage's weights, ahead of the
 * stage (pipeline/prefetch.h). Returns the bytes populated, 0 for data held in memory. */
size_t sdc_checkpoint_populate(const sdc_checkpoint *ck, const void *data, size_t nbytes);
/* The same for one tensor of the checkpoint (its blocks, for a quantised GGUF tensor). */
size_t sdc_checkpoint_release_tensor(const sdc_checkpoint *ck, const sdc_tensor *t);
/* The same for the whole pages of [data, data + nbytes) when it lies in one of the
 * checkpoint's mapped files; 0 for anything else (owned or held memory is never touched). */
size_t sdc_checkpoint_release_range(const sdc_checkpoint *ck, const void *data, size_t nbytes);
/* Records that the model holds tensor `name` of `component` as blocks of type q, quantised at
 * load from the mapped values (--conv-type, pipeline/conv_quant.c): sdc_checkpoint_memory_text
 * counts its bytes as that type. NULL forgets it. */
void sdc_checkpoint_hold_as(sdc_checkpoint *ck, sdc_component component, const char *name,
                            const sdc_qtype_info *q);
/* `size` bytes of writable memory for weights of `component` that the model makes at load
 * (--conv-type's kernels), in an unlinked temporary file the checkpoint maps until it
 * closes: sdc_checkpoint_release(component) drops its pages from the resident set as it
 * drops the file's. NULL (a warning logged) when no temporary file can be made: the caller
 * keeps its weights in the heap. Once per component; sdc_checkpoint_seal_held makes it
 * read-only when written. */
void *sdc_checkpoint_held_area(sdc_checkpoint *ck, sdc_component component, size_t size);
void sdc_checkpoint_seal_held(sdc_checkpoint *ck, sdc_component component);
/* The type tensor `index` (< count) of `component` is held as, or NULL: as the file has it. */
const sdc_qtype_info *sdc_checkpoint_held_as(const sdc_checkpoint *ck, sdc_component component,
                                             size_t index);
/* Tensors of the file(s) that belong to no component (schedule buffers, EMA counters,
 * position_ids, OpenCLIP text_projection / logit_scale, SDXL's second text encoder, ...). */
size_t sdc_checkpoint_unused_count(const sdc_checkpoint *ck);
const char *sdc_checkpoint_unused_name(const sdc_checkpoint *ck, size_t index);
/* Number of elements over the component's float tensors. */
int64_t sdc_checkpoint_param_count(const sdc_checkpoint *ck, sdc_component component);
/* The dtype holding most of the component's parameters (F32 when it has none). */
sdc_dtype sdc_checkpoint_dtype(const sdc_checkpoint *ck, sdc_component component);

const char *sdc_checkpoint_path(const sdc_checkpoint *ck);
sdc_layout sdc_checkpoint_layout(const sdc_checkpoint *ck);
/* Detected from names and shapes (docs/formats.md): SDXL when label_emb / conditioner
 * keys exist; SD 2.x for OpenCLIP text naming, a linear proj_in or a 1024-wide context;
 * otherwise SD 1.x when a UNet or text encoder exists. */
sdc_family sdc_checkpoint_family(const sdc_checkpoint *ck);

/* Prediction type. Diffusers folders: scheduler_config.json's prediction_type (eps when
 * absent). Single files: the "modelspec.prediction_type" metadata when present; else SD 2.x
 * with a 4-channel UNet is v (the 768-v model; the 512-base model has identical shapes and
 * needs an override), everything else eps. */
sdc_prediction sdc_checkpoint_prediction(const sdc_checkpoint *ck);
void sdc_checkpoint_set_prediction(sdc_checkpoint *ck, sdc_prediction prediction);
/* Where the prediction came from: "scheduler config", "file metadata", "sd2 default",
 * "default" or "override". */
const char *sdc_checkpoint_prediction_source(const sdc_checkpoint *ck);

/* What the files say of how the model is sampled: the modelspec.title metadata of a single
 * file and the _class_name of a diffusers folder's scheduler_config.json (NULL when absent). */
const char *sdc_checkpoint_title(const sdc_checkpoint *ck);
const char *sdc_checkpoint_scheduler_class(const sdc_checkpoint *ck);

/* Input channels of the UNet (4; 9 for inpainting models). */
int sdc_checkpoint_unet_in_channels(const sdc_checkpoint *ck);
/* Width of the cross-attention context (768 SD 1.x, 1024 SD 2.x, 2048 SDXL), 0 if unknown. */
int sdc_checkpoint_context_dim(const sdc_checkpoint *ck);

/* Transformer layers stored for the text encoder (text_model.encoder.layers.N). */
int sdc_checkpoint_text_layers(const sdc_checkpoint *ck);
/* What the files say about a text encoder component (-1: nothing); the family rules that turn
 * this into layers, activation and pad token live with the text encoders
 * (clip/text_family.h). */
typedef struct sdc_text_said {
    int openclip_naming; /* 1: it came in OpenCLIP names (a single file holding every layer) */
    int quick_gelu;      /* config.json hidden_act: 1 quick_gelu, 0 gelu */
    int pad_token;       /* the tokenizer's special_tokens_map.json pad_token */
} sdc_text_said;
sdc_text_said sdc_checkpoint_text_said(const sdc_checkpoint *ck, sdc_component text);
/* The model's own tokenizer directory (holding vocab.json + merges.txt), or NULL: a diffusers
 * folder's tokenizer/, or for a single file the folder it sits in when that folder holds
 * vocab.json + merges.txt (as models/demo/ does). Its special_tokens_map.json, if any, sets
 * the pad token. */
const char *sdc_checkpoint_tokenizer_dir(const sdc_checkpoint *ck);
/* --vocab DIR: a vocab.json + merges.txt folder named by the user becomes the tokenizer folder
 * of a model without one of its own (whose own folder wins, as for the vocabulary itself), so
 * its special_tokens_map.json sets the pad token as it would beside the file. A path that is
 * no such folder (a .txt.gz) changes nothing. */
sdc_status sdc_checkpoint_use_vocab_dir(sdc_checkpoint *ck, const char *dir);

/* Replaces the VAE with the one in `vae_path`: a VAE-only single file (LDM names with or
 * without "first_stage_model.", or diffusers names), a diffusers vae/ folder or its weights
 * file, or a whole checkpoint / diffusers folder whose VAE is taken. On failure the old VAE
 * stays. */
sdc_status sdc_checkpoint_replace_vae(sdc_checkpoint *ck, const char *vae_path);
/* The file or folder the VAE comes from. */
const char *sdc_checkpoint_vae_path(const sdc_checkpoint *ck);

/* The file whose SHA-256 is the model hash: the single file, or a diffusers folder's UNet
 * weights (its first shard when sharded). */
const char *sdc_checkpoint_hash_path(const sdc_checkpoint *ck);
/* AUTOMATIC1111's short hash: the first 10 hex digits of that file's SHA-256. Reads the
 * whole file (seconds for multi-GB files). */
sdc_status sdc_checkpoint_short_hash(const sdc_checkpoint *ck, char hash[11]);

const char *sdc_component_name(sdc_component component);
const char *sdc_layout_name(sdc_layout layout);
/* Family and prediction names: sdc_family_name, sdc_prediction_from_name ... (sdc.h). */

#endif
