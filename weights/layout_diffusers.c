/* diffusers folders: model_index.json names the components; unet/, vae/ and text_encoder/
 * hold weights in diffusers / transformers naming, mapped here onto the internal names;
 * scheduler/, text_encoder/ and tokenizer/ configs say what the names cannot. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "weights/checkpoint_impl.h"
#include "weights/json_file.h"
#include "weights/name_rules.h"

/* Loads `dir`/`name` when it exists; *out stays NULL when it does not. */
static sdc_status load_optional_json(const char *dir, const char *name, json_t **out)
{
    char path[PATH_MAX];
    *out = NULL;
    if (!sdc_path_join(path, sizeof path, dir, name))
        return sdc_fail(SDC_ERR_ARG, "%s: path too long", dir);
    return sdc_is_file(path) ? sdc_json_load_object(path, out) : SDC_OK;
}

static sdc_status map_unet(sdc_checkpoint *ck, size_t first)
{
    sdc_diffusers_hints hints;
    sdc_diffusers_hints_init(&hints);
    for (size_t f = first; f < ck->file_count; f++)
        for (size_t i = 0; i < sdc_safetensors_count(ck->files[f]); i++)
            sdc_diffusers_hints_scan(&hints, sdc_safetensors_entry(ck->files[f], i)->name);
    for (size_t f = first; f < ck->file_count; f++) {
        const char *file = sdc_safetensors_path(ck->files[f]);
        for (size_t i = 0; i < sdc_safetensors_count(ck->files[f]); i++) {
            const sdc_st_entry *e = sdc_safetensors_entry(ck->files[f], i);
            char name[SDC_CK_NAME_MAX];
            sdc_status s = sdc_diffusers_unet_name(&hints, e->name, name, sizeof name) == 1
                               ? sdc_ck_table_add(&ck->tables[SDC_COMPONENT_UNET], name,
                                                  &e->tensor, file)
                               : sdc_ck_note_unused(ck, e->name);
            if (s != SDC_OK)
                return s;
        }
    }
    return SDC_OK;
}

static sdc_status map_text(sdc_checkpoint *ck, size_t first, sdc_component c)
{
    for (size_t f = first; f < ck->file_count; f++) {
        const char *file = sdc_safetensors_path(ck->files[f]);
        for (size_t i = 0; i < sdc_safetensors_count(ck->files[f]); i++) {
            const sdc_st_entry *e = sdc_safetensors_entry(ck->files[f], i);
            char name[SDC_CK_NAME_MAX];
            sdc_status s = sdc_clip_text_name(e->name, name, sizeof name) == 1
                               ? sdc_ck_table_add(&ck->tables[c], name, &e->tensor, file)
                               : sdc_ck_note_unused(ck, e->name);
            if (s != SDC_OK)
                return s;
        }
    }
    return SDC_OK;
}

/* A component model_index.json lists with a class (["diffusers", "UNet2DConditionModel"]). */
static int listed(json_t *index, const char *component)
{
    json_t *v = json_object_get(index, component);
    return json_is_array(v) && json_is_string(json_array_get(v, 1));
}

static sdc_status load_component(sdc_checkpoint *ck, json_t *index, const char *sub,
                                 sdc_component c)
{
    char dir[PATH_MAX];
    size_t first;
    int found;
    if (!sdc_path_join(dir, sizeof dir, ck->path, sub))
        return sdc_fail(SDC_ERR_ARG, "%s: path too long", ck->path);
    sdc_status s = sdc_ck_open_component_dir(ck, dir, &first, &found);
    if (s != SDC_OK)
        return s;
    if (!found)
        return c == SDC_COMPONENT_UNET || listed(index, sub)
                   ? sdc_fail(SDC_ERR_FORMAT, "%s: no %s weights (%s/diffusion_pytorch_model"
                              ".safetensors, model.safetensors, a .fp16. variant or a "
                              ".safetensors.index.json)", ck->path, sub, sub)
                   : SDC_OK;
    if (c == SDC_COMPONENT_UNET) {
        ck->hash_path = strdup(sdc_safetensors_path(ck->files[first]));
        if (!ck->hash_path)
            return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", ck->path);
        return map_unet(ck, first);
    }
    if (c == SDC_COMPONENT_VAE) {
        ck->vae_path = strdup(dir);
        if (!ck->vae_path)
            return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", ck->path);
        return sdc_ck_map_vae(ck, first, &ck->tables[SDC_COMPONENT_VAE], 1);
    }
    return map_text(ck, first, c);
}

static const char *string_of(json_t *object, const char *key)
{
    json_t *v = json_object_get(object, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static sdc_status read_scheduler(sdc_checkpoint *ck)
{
    json_t *cfg;
    sdc_status s = load_optional_json(ck->path, "scheduler/scheduler_config.json", &cfg);
    const char *type = s == SDC_OK && cfg ? string_of(cfg, "prediction_type") : NULL;
    if (type && sdc_prediction_from_name(type) < 0)
        s = sdc_fail(SDC_ERR_UNSUPPORTED, "%s/scheduler/scheduler_config.json: prediction_type "
                     "'%s' is not supported (epsilon or v_prediction)", ck->path, type);
    else if (type) {
        ck->facts.prediction = sdc_prediction_from_name(type);
        ck->facts.prediction_source = "scheduler config";
    }
    const char *class_name = s == SDC_OK && cfg ? string_of(cfg, "_class_name") : NULL;
    if (class_name && !(ck->facts.scheduler_class = strdup(class_name)))
        s = sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", ck->path);
    json_decref(cfg);
    return s;
}

/* hidden_act of text encoder `which` (0: text_encoder/, 1: text_encoder_2/). */
static sdc_status read_text_config(sdc_checkpoint *ck, int which)
{
    json_t *cfg;
    sdc_status s = load_optional_json(ck->path, which ? "text_encoder_2/config.json"
                                                      : "text_encoder/config.json", &cfg);
    const char *act = s == SDC_OK && cfg ? string_of(cfg, "hidden_act") : NULL;
    if (act)
        ck->facts.text[which].quick_gelu = strcmp(act, "quick_gelu") == 0;
    json_decref(cfg);
    return s;
}

/* pad_token is a string or {"content": string}; the id comes from vocab.json. */
static sdc_status read_pad_token(sdc_checkpoint *ck, const char *tokenizer, int which)
{
    json_t *map, *vocab = NULL;
    sdc_status s = load_optional_json(tokenizer, "special_tokens_map.json", &map);
    json_t *pad = s == SDC_OK && map ? json_object_get(map, "pad_token") : NULL;
    const char *text = json_is_object(pad) ? string_of(pad, "content")
                       : json_is_string(pad) ? json_string_value(pad)
                                             : NULL;
    if (text)
        s = load_optional_json(tokenizer, "vocab.json", &vocab);
    json_t *id = vocab ? json_object_get(vocab, text) : NULL;
    if (json_is_integer(id))
        ck->facts.text[which].pad_token = (int)json_integer_value(id);
    json_decref(vocab);
    json_decref(map);
    return s;
}

sdc_status sdc_ck_find_tokenizer(sdc_checkpoint *ck, const char *dir)
{
    char vocab[PATH_MAX], merges[PATH_MAX];
    if (!sdc_path_join(vocab, sizeof vocab, dir, "vocab.json") ||
        !sdc_path_join(merges, sizeof merges, dir, "merges.txt"))
        return sdc_fail(SDC_ERR_ARG, "%s: path too long", ck->path);
    if (!sdc_is_file(vocab) || !sdc_is_file(merges))
        return SDC_OK;
    ck->tokenizer_dir = strdup(dir);
    if (!ck->tokenizer_dir)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", ck->path);
    return read_pad_token(ck, dir, 0);
}

/* tokenizer/ (the model's vocabulary) and tokenizer_2/ (SDXL: the same vocabulary, its own
 * pad token). */
static sdc_status read_tokenizers(sdc_checkpoint *ck)
{
    char dir[PATH_MAX];
    if (!sdc_path_join(dir, sizeof dir, ck->path, "tokenizer"))
        return sdc_fail(SDC_ERR_ARG, "%s: path too long", ck->path);
    sdc_status s = sdc_ck_find_tokenizer(ck, dir);
    if (s == SDC_OK && !sdc_path_join(dir, sizeof dir, ck->path, "tokenizer_2"))
        s = sdc_fail(SDC_ERR_ARG, "%s: path too long", ck->path);
    if (s == SDC_OK) /* special_tokens_map.json is optional, as is the folder */
        s = read_pad_token(ck, dir, 1);
    return s;
}

static sdc_status read_model_index(sdc_checkpoint *ck, json_t **index)
{
    char path[PATH_MAX];
    if (!sdc_path_join(path, sizeof path, ck->path, "model_index.json"))
        return sdc_fail(SDC_ERR_ARG, "%s: path too long", ck->path);
    if (!sdc_is_file(path))
        return sdc_fail(SDC_ERR_FORMAT, "%s: a folder without model_index.json is no diffusers "
                        "model", ck->path);
    sdc_status s = sdc_json_load_object(path, index);
    if (s != SDC_OK)
        return s;
    const char *cls = string_of(*index, "_class_name");
    if (listed(*index, "text_encoder_2") || (cls && strstr(cls, "XL")))
        ck->facts.sdxl_marker = 1;
    return SDC_OK;
}

sdc_status sdc_ck_load_diffusers(sdc_checkpoint *ck)
{
    json_t *index = NULL;
    sdc_status s = read_model_index(ck, &index);
    if (s == SDC_OK)
        s = load_component(ck, index, "unet", SDC_COMPONENT_UNET);
    if (s == SDC_OK)
        s = load_component(ck, index, "vae", SDC_COMPONENT_VAE);
    if (s == SDC_OK)
        s = load_component(ck, index, "text_encoder", SDC_COMPONENT_TEXT);
    if (s == SDC_OK)
        s = load_component(ck, index, "text_encoder_2", SDC_COMPONENT_TEXT2);
    json_decref(index);
    if (s == SDC_OK)
        s = read_scheduler(ck);
    if (s == SDC_OK)
        s = read_text_config(ck, 0);
    if (s == SDC_OK)
        s = read_text_config(ck, 1);
    if (s == SDC_OK)
        s = read_tokenizers(ck);
    return s;
}
