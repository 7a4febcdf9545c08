/* Tensor-name rules between checkpoint layouts, as pure string functions (no files), so
 * they can be checked against the full-size name manifests:
 *
 *   diffusers UNet / VAE names  -> LDM names (the inverse of diffusers'
 *                                  convert_diffusers_to_original_stable_diffusion rules,
 *                                  generalised to any block count)
 *   OpenCLIP text-tower names   -> Hugging Face CLIP names (fused q/k/v reported as such)
 *
 * Every mapper writes into dst (cap bytes) and returns 1 when it produced a name, 0 when
 * the name is not one of the component's weights, -1 when the result would not fit. */
#ifndef SDC_WEIGHTS_NAME_RULES_H
#define SDC_WEIGHTS_NAME_RULES_H

#include <stddef.h>

/* Structure the diffusers -> LDM numbering depends on, learnt from the names themselves
 * (scan every name of the component first). */
typedef struct sdc_diffusers_hints {
    int unet_layers_per_block; /* resnets per UNet down block (2 in SD 1.x / 2.x / XL) */
    unsigned unet_up_attn;     /* bit i: up_blocks.i has attentions */
    int vae_up_blocks;         /* decoder up blocks (LDM numbers them in reverse) */
} sdc_diffusers_hints;

void sdc_diffusers_hints_init(sdc_diffusers_hints *h);
void sdc_diffusers_hints_scan(sdc_diffusers_hints *h, const char *name);

/* diffusers UNet name -> LDM name without "model.diffusion_model.". */
int sdc_diffusers_unet_name(const sdc_diffusers_hints *h, const char *name, char *dst,
                            size_t cap);
/* VAE name (diffusers or already LDM, without "first_stage_model.") -> LDM name. */
int sdc_diffusers_vae_name(const sdc_diffusers_hints *h, const char *name, char *dst,
                           size_t cap);

typedef enum sdc_openclip_kind {
    SDC_OPENCLIP_NONE,       /* not a text-tower weight (text_projection, logit_scale) */
    SDC_OPENCLIP_RENAME,     /* dst is the HF name */
    SDC_OPENCLIP_QKV_WEIGHT, /* in_proj_weight [3W, W]: dst is "...self_attn." */
    SDC_OPENCLIP_QKV_BIAS,   /* in_proj_bias [3W]: dst is "...self_attn." */
    SDC_OPENCLIP_TOO_LONG,
} sdc_openclip_kind;

/* OpenCLIP name without "cond_stage_model.model." -> HF CLIP name. */
sdc_openclip_kind sdc_openclip_name(const char *name, char *dst, size_t cap);
/* HF CLIP text name as stored (with or without "text_model.") -> internal name; 0 for the
 * position_ids buffer. */
int sdc_clip_text_name(const char *name, char *dst, size_t cap);

/* --- helpers shared by the rule files (name_pattern.c) --- */

/* Matches `s` against `pat` from the start: '#' in pat matches a decimal number (at most 4
 * digits) stored into idx[0], idx[1], ...; other characters match themselves. On a match
 * *rest points after the matched prefix and 1 is returned. */
int sdc_name_match(const char *s, const char *pat, int *idx, const char **rest);

typedef struct sdc_name_rename {
    const char *from, *to;
} sdc_name_rename;

/* Writes prefix + (rest with its leading `from` replaced by `to`, for the first rule of
 * `rules` whose `from` starts rest; rest unchanged when none does). Returns 1, or -1 when
 * the result would not fit. */
int sdc_name_compose(char *dst, size_t cap, const char *prefix, const char *rest,
                     const sdc_name_rename *rules, size_t count);

#endif
