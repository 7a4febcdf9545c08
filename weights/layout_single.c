/* Single-file LDM / CompVis checkpoints (.safetensors, or .ckpt through weights/ckpt.h):
 * each component sits under a fixed prefix; the SD 2.x text encoder is in OpenCLIP naming
 * and gets Hugging Face names, its fused q/k/v projection split into three views of the
 * mapped data. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "weights/checkpoint_impl.h"
#include "weights/name_rules.h"

static const char unet_prefix[] = "model.diffusion_model.";
static const char vae_prefix[] = "first_stage_model.";
static const char clip_prefix[] = "cond_stage_model.transformer.";
static const char openclip_prefix[] = "cond_stage_model.model.";
static const char sdxl_prefix[] = "conditioner.embedders.";

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static sdc_status add(sdc_checkpoint *ck, sdc_component c, const char *name,
                      const sdc_tensor *t)
{
    return sdc_ck_table_add(&ck->tables[c], name, t, ck->path);
}

/* in_proj_weight [3W, W] / in_proj_bias [3W] -> q_proj, k_proj, v_proj views [W, W] / [W]. */
static sdc_status split_qkv(sdc_checkpoint *ck, sdc_component c, const sdc_st_entry *e,
                            const char *prefix, int is_weight)
{
    static const char *const parts[3] = {"q_proj", "k_proj", "v_proj"};
    const sdc_tensor *t = &e->tensor;
    int ok = t->ndim == (is_weight ? 2 : 1) && t->shape[0] > 0 && t->shape[0] % 3 == 0 &&
             (!is_weight || t->shape[0] == 3 * t->shape[1]);
    if (!ok)
        return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' is not a fused %s projection",
                        ck->path, e->name, is_weight ? "[3W, W]" : "[3W]");
    size_t part_bytes = (size_t)(sdc_tensor_numel(t) / 3) * sdc_dtype_size(t->dtype);
    for (int i = 0; i < 3; i++) {
        char name[SDC_CK_NAME_MAX];
        int n = snprintf(name, sizeof name, "%s%s.%s", prefix, parts[i],
                         is_weight ? "weight" : "bias");
        if (n < 0 || (size_t)n >= sizeof name)
            return sdc_ck_note_unused(ck, e->name);
        sdc_tensor view = *t;
        view.shape[0] = t->shape[0] / 3;
        view.data = (const uint8_t *)t->data + i * part_bytes;
        if (t->quant) /* whole rows of blocks: a third of them */
            view.blocks = (const uint8_t *)t->blocks +
                          i * (size_t)(sdc_tensor_numel(t) / 3 / t->quant->block) *
                              (size_t)t->quant->block_bytes;
        sdc_status s = add(ck, c, name, &view);
        if (s != SDC_OK)
            return s;
    }
    return SDC_OK;
}

static sdc_status map_openclip(sdc_checkpoint *ck, sdc_component c, const sdc_st_entry *e,
                               const char *rest)
{
    char name[SDC_CK_NAME_MAX];
    sdc_openclip_kind kind = sdc_openclip_name(rest, name, sizeof name);
    if (kind == SDC_OPENCLIP_NONE || kind == SDC_OPENCLIP_TOO_LONG)
        return sdc_ck_note_unused(ck, e->name);
    ck->facts.text[c == SDC_COMPONENT_TEXT2].openclip_naming = 1;
    if (kind == SDC_OPENCLIP_RENAME)
        return add(ck, c, name, &e->tensor);
    return split_qkv(ck, c, e, name, kind == SDC_OPENCLIP_QKV_WEIGHT);
}

/* SDXL's conditioner.embedders.N.*: "transformer." holds CLIP ViT-L in Hugging Face names
 * (the base's first encoder), "model." OpenCLIP ViT-bigG (the base's second encoder, the
 * refiner's only one). */
static sdc_status map_sdxl_text(sdc_checkpoint *ck, const sdc_st_entry *e, const char *rest)
{
    char name[SDC_CK_NAME_MAX];
    ck->facts.sdxl_marker = 1;
    int index;
    const char *inner;
    if (!sdc_name_match(rest, "#.", &index, &inner))
        return sdc_ck_note_unused(ck, e->name);
    if (starts(inner, "transformer.") &&
        sdc_clip_text_name(inner + strlen("transformer."), name, sizeof name) == 1)
        return add(ck, SDC_COMPONENT_TEXT, name, &e->tensor);
    if (starts(inner, "model."))
        return map_openclip(ck, SDC_COMPONENT_TEXT2, e, inner + strlen("model."));
    return sdc_ck_note_unused(ck, e->name);
}

static sdc_status map_entry(sdc_checkpoint *ck, const sdc_st_entry *e)
{
    const char *n = e->name;
    if (starts(n, unet_prefix))
        return add(ck, SDC_COMPONENT_UNET, n + strlen(unet_prefix), &e->tensor);
    if (starts(n, vae_prefix))
        return add(ck, SDC_COMPONENT_VAE, n + strlen(vae_prefix), &e->tensor);
    if (starts(n, clip_prefix)) {
        char name[SDC_CK_NAME_MAX];
        if (sdc_clip_text_name(n + strlen(clip_prefix), name, sizeof name) == 1)
            return add(ck, SDC_COMPONENT_TEXT, name, &e->tensor);
    } else if (starts(n, openclip_prefix)) {
        return map_openclip(ck, SDC_COMPONENT_TEXT, e, n + strlen(openclip_prefix));
    } else if (starts(n, sdxl_prefix)) {
        return map_sdxl_text(ck, e, n + strlen(sdxl_prefix));
    }
    return sdc_ck_note_unused(ck, n);
}

/* A single file with its own vocabulary (vocab.json + merges.txt in the same folder, as the
 * built-in demo model has) uses it, like a diffusers folder's tokenizer/. */
static sdc_status find_tokenizer_beside(sdc_checkpoint *ck)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(ck->path, '/');
    int len = slash ? (int)(slash - ck->path) : 0;
    int n = !slash ? snprintf(dir, sizeof dir, ".")
            : len == 0 ? snprintf(dir, sizeof dir, "/")
                       : snprintf(dir, sizeof dir, "%.*s", len, ck->path);
    if (n < 0 || (size_t)n >= sizeof dir)
        return sdc_fail(SDC_ERR_ARG, "%s: path too long", ck->path);
    return sdc_ck_find_tokenizer(ck, dir);
}

sdc_status sdc_ck_load_single(sdc_checkpoint *ck)
{
    sdc_safetensors *st;
    sdc_status s = sdc_ck_add_file(ck, ck->path, &st);
    if (s != SDC_OK)
        return s;
    ck->hash_path = strdup(ck->path);
    ck->vae_path = strdup(ck->path);
    if (!ck->hash_path || !ck->vae_path)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", ck->path);
    const char *title = sdc_safetensors_metadata(st, "modelspec.title");
    if (title && !(ck->facts.title = strdup(title)))
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", ck->path);
    const char *pred = sdc_safetensors_metadata(st, "modelspec.prediction_type");
    if (pred && sdc_prediction_from_name(pred) >= 0) {
        ck->facts.prediction = sdc_prediction_from_name(pred);
        ck->facts.prediction_source = "file metadata";
    }
    for (size_t i = 0; i < sdc_safetensors_count(st); i++) {
        s = map_entry(ck, sdc_safetensors_entry(st, i));
        if (s != SDC_OK)
            return s;
    }
    return find_tokenizer_beside(ck);
}
