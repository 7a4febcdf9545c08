/* ControlNet files seen as a UNet component (LDM names without a prefix), so the UNet's own
 * block loaders read its encoder:
 *
 *   original (lllyasviel) layout  time_embed.*, input_blocks.*, middle_block.*, plus
 *                                 input_hint_block.*, zero_convs.N.0.*, middle_block_out.0.*;
 *                                 every key may carry "control_model." (the .pth releases)
 *   diffusers ControlNetModel     a folder (config.json + diffusion_pytorch_model.*) or its
 *                                 weights file: UNet names plus controlnet_cond_embedding.*,
 *                                 controlnet_down_blocks.N.*, controlnet_mid_block.*
 *
 * The tensors stay views of the mapped files; nothing duplicates the base model's UNet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/error.h"
#include "weights/checkpoint_impl.h"
#include "weights/json_file.h"
#include "weights/name_rules.h"

static const char control_prefix[] = "control_model.";

/* The hint encoder's convolutions: conv_in, blocks 0..5, conv_out at Sequential indexes 0,
 * 2, ..., 14 (the SiLUs between them have no tensors). */
#define HINT_BLOCKS 6

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* diffusers' ControlNet-only names -> original names; 0 when `name` is not one of them. */
static int controlnet_only_name(const char *name, char *dst, size_t cap)
{
    int i[1];
    const char *rest;
    int n = -1;
    if (sdc_name_match(name, "controlnet_cond_embedding.conv_in.", i, &rest))
        n = snprintf(dst, cap, "input_hint_block.0.%s", rest);
    else if (sdc_name_match(name, "controlnet_cond_embedding.blocks.#.", i, &rest))
        n = i[0] < HINT_BLOCKS ? snprintf(dst, cap, "input_hint_block.%d.%s", 2 * i[0] + 2, rest)
                               : -1;
    else if (sdc_name_match(name, "controlnet_cond_embedding.conv_out.", i, &rest))
        n = snprintf(dst, cap, "input_hint_block.%d.%s", 2 * HINT_BLOCKS + 2, rest);
    else if (sdc_name_match(name, "controlnet_down_blocks.#.", i, &rest))
        n = snprintf(dst, cap, "zero_convs.%d.0.%s", i[0], rest);
    else if (sdc_name_match(name, "controlnet_mid_block.", i, &rest))
        n = snprintf(dst, cap, "middle_block_out.0.%s", rest);
    else
        return 0;
    return n >= 0 && (size_t)n < cap ? 1 : -1;
}

static int has_diffusers_names(const sdc_checkpoint *ck, size_t first)
{
    for (size_t f = first; f < ck->file_count; f++)
        for (size_t i = 0; i < sdc_safetensors_count(ck->files[f]); i++)
            if (starts(sdc_safetensors_entry(ck->files[f], i)->name,
                       "controlnet_cond_embedding."))
                return 1;
    return 0;
}

/* One tensor's internal name: 1 named, 0 not a ControlNet weight, -1 too long. */
static int internal_name(const sdc_diffusers_hints *hints, int diffusers, const char *name,
                         char *dst, size_t cap)
{
    if (starts(name, control_prefix))
        name += strlen(control_prefix);
    if (!diffusers) {
        int n = snprintf(dst, cap, "%s", name);
        return n >= 0 && (size_t)n < cap ? 1 : -1;
    }
    int r = controlnet_only_name(name, dst, cap);
    return r != 0 ? r : sdc_diffusers_unet_name(hints, name, dst, cap);
}

/* Relatives of the ControlNet from the SDXL era that would load partly as one and compute
 * something else: refused by a tensor only they have rather than run wrong. */
static const struct {
    const char *prefix, *what;
} foreign[] = {
    {"lora_controlnet", "a Control-LoRA (low-rank deltas to the base UNet)"},
    {"task_embedding", "a ControlNet++ union net (task embeddings)"},
    {"control_add_embedding.", "a ControlNet++ union net (control type embedding)"},
};

static sdc_status refuse_foreign(const sdc_checkpoint *ck, const char *name)
{
    if (starts(name, control_prefix))
        name += strlen(control_prefix);
    for (size_t k = 0; k < sizeof foreign / sizeof foreign[0]; k++)
        if (starts(name, foreign[k].prefix))
            return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: %s, not a plain ControlNet ('%s'); sdc "
                            "does not run these", ck->path, foreign[k].what, name);
    return SDC_OK;
}

static sdc_status map_controlnet(sdc_checkpoint *ck, size_t first)
{
    int diffusers = has_diffusers_names(ck, first);
    sdc_diffusers_hints hints;
    sdc_diffusers_hints_init(&hints);
    for (size_t f = first; diffusers && f < ck->file_count; f++)
        for (size_t i = 0; i < sdc_safetensors_count(ck->files[f]); i++)
            sdc_diffusers_hints_scan(&hints, sdc_safetensors_entry(ck->files[f], i)->name);
    for (size_t f = first; f < ck->file_count; f++) {
        const char *file = sdc_safetensors_path(ck->files[f]);
        for (size_t i = 0; i < sdc_safetensors_count(ck->files[f]); i++) {
            const sdc_st_entry *e = sdc_safetensors_entry(ck->files[f], i);
            char name[SDC_CK_NAME_MAX];
            sdc_status s = refuse_foreign(ck, e->name);
            if (s != SDC_OK)
                return s;
            s = internal_name(&hints, diffusers, e->name, name, sizeof name) == 1
                               ? sdc_ck_table_add(&ck->tables[SDC_COMPONENT_UNET], name,
                                                  &e->tensor, file)
                               : sdc_ck_note_unused(ck, e->name);
            if (s != SDC_OK)
                return s;
        }
    }
    if (!sdc_checkpoint_get(ck, SDC_COMPONENT_UNET, "input_hint_block.0.weight"))
        return sdc_fail(SDC_ERR_FORMAT, "%s: not a ControlNet (no input_hint_block.0.weight "
                        "or controlnet_cond_embedding.conv_in.weight)", ck->path);
    return SDC_OK;
}

static sdc_status open_files(sdc_checkpoint *ck, int is_dir, size_t *first)
{
    *first = ck->file_count;
    if (!is_dir) {
        sdc_safetensors *st;
        return sdc_ck_add_file(ck, ck->path, &st);
    }
    int found;
    sdc_status s = sdc_ck_open_component_dir(ck, ck->path, first, &found);
    if (s == SDC_OK && !found)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: no ControlNet weights in the folder "
                     "(diffusion_pytorch_model.safetensors or .bin)", ck->path);
    return s;
}

sdc_status sdc_ck_load_controlnet(sdc_checkpoint *ck, int is_dir)
{
    size_t first;
    sdc_status s = open_files(ck, is_dir, &first);
    if (s == SDC_OK) {
        ck->hash_path = strdup(sdc_safetensors_path(ck->files[first]));
        if (!ck->hash_path)
            s = sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", ck->path);
    }
    return s == SDC_OK ? map_controlnet(ck, first) : s;
}
