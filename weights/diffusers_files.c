/* The weights file(s) of one diffusers component folder: diffusers and transformers names,
 * the .fp16. variant, sharded checkpoints described by an index json, and (when a folder has
 * no .safetensors) PyTorch .bin weights, read by the restricted reader of weights/ckpt.h. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "weights/checkpoint_impl.h"
#include "weights/json_file.h"

/* In order of preference: full precision before the fp16 variant, like diffusers' default. */
static const struct {
    const char *name;
    int is_index;
    int torch; /* PyTorch weights (the index's shards too) */
} candidates[] = {
    {"diffusion_pytorch_model.safetensors", 0, 0},
    {"model.safetensors", 0, 0},
    {"diffusion_pytorch_model.safetensors.index.json", 1, 0},
    {"model.safetensors.index.json", 1, 0},
    {"diffusion_pytorch_model.fp16.safetensors", 0, 0},
    {"model.fp16.safetensors", 0, 0},
    {"diffusion_pytorch_model.safetensors.index.fp16.json", 1, 0},
    {"model.safetensors.index.fp16.json", 1, 0},
    {"diffusion_pytorch_model.fp16.safetensors.index.json", 1, 0},
    {"model.fp16.safetensors.index.json", 1, 0},
    /* older folders: torch.save zip archives */
    {"diffusion_pytorch_model.bin", 0, 1},
    {"pytorch_model.bin", 0, 1},
    {"diffusion_pytorch_model.bin.index.json", 1, 1},
    {"pytorch_model.bin.index.json", 1, 1},
    {"diffusion_pytorch_model.fp16.bin", 0, 1},
    {"pytorch_model.fp16.bin", 0, 1},
};

/* A shard name from an index must stay inside the component folder. */
static int safe_file_name(const char *name)
{
    return name[0] && name[0] != '.' && !strchr(name, '/') && !strchr(name, '\\') &&
           strlen(name) < 256;
}

static int compare_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Distinct shard names of the weight map, sorted; *names borrows from `map`. */
static sdc_status shard_names(const char *index_path, json_t *map, const char ***names,
                              size_t *count)
{
    size_t n = json_object_size(map), k = 0;
    const char **list = calloc(n ? n : 1, sizeof *list);
    if (!list)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", index_path);
    const char *key;
    json_t *value;
    json_object_foreach(map, key, value) {
        if (!json_is_string(value) || !safe_file_name(json_string_value(value))) {
            free(list);
            return sdc_fail(SDC_ERR_FORMAT, "%s: weight_map entry '%s' names no plain file "
                            "in the folder", index_path, key);
        }
        list[k++] = json_string_value(value);
    }
    qsort(list, k, sizeof *list, compare_str);
    size_t distinct = 0;
    for (size_t i = 0; i < k; i++)
        if (distinct == 0 || strcmp(list[distinct - 1], list[i]) != 0)
            list[distinct++] = list[i];
    *names = list;
    *count = distinct;
    return SDC_OK;
}

/* Every tensor the index lists must be in the shard it names. */
static sdc_status check_weight_map(sdc_checkpoint *ck, const char *index_path, json_t *map,
                                   const char **names, size_t count, size_t first)
{
    const char *key;
    json_t *value;
    json_object_foreach(map, key, value) {
        const char **hit = bsearch(&(const char *){json_string_value(value)}, names, count,
                                   sizeof *names, compare_str);
        if (!hit || !sdc_safetensors_find(ck->files[first + (size_t)(hit - names)], key))
            return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' is not in its shard %s",
                            index_path, key, json_string_value(value));
    }
    return SDC_OK;
}

/* Opens a weights file as a PyTorch checkpoint when `torch`, else by its content. */
static sdc_status add_weights(sdc_checkpoint *ck, const char *path, int torch)
{
    sdc_safetensors *st;
    return torch ? sdc_ck_add_torch_file(ck, path, &st) : sdc_ck_add_file(ck, path, &st);
}

static sdc_status open_shards(sdc_checkpoint *ck, const char *dir, const char *index_path,
                              int torch)
{
    json_t *root;
    sdc_status s = sdc_json_load_object(index_path, &root);
    if (s != SDC_OK)
        return s;
    json_t *map = json_object_get(root, "weight_map");
    const char **names = NULL;
    size_t count = 0, first = ck->file_count;
    if (!json_is_object(map) || json_object_size(map) == 0)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: no \"weight_map\" object", index_path);
    else
        s = shard_names(index_path, map, &names, &count);
    for (size_t i = 0; s == SDC_OK && i < count; i++) {
        char path[PATH_MAX];
        if (!sdc_path_join(path, sizeof path, dir, names[i]))
            s = sdc_fail(SDC_ERR_ARG, "%s: path too long", dir);
        else
            s = add_weights(ck, path, torch);
    }
    if (s == SDC_OK)
        s = check_weight_map(ck, index_path, map, names, count, first);
    free(names);
    json_decref(root);
    return s;
}

sdc_status sdc_ck_open_component_dir(sdc_checkpoint *ck, const char *dir, size_t *first,
                                     int *found)
{
    char path[PATH_MAX];
    *first = ck->file_count;
    *found = 0;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (!sdc_path_join(path, sizeof path, dir, candidates[i].name))
            return sdc_fail(SDC_ERR_ARG, "%s: path too long", dir);
        if (!sdc_is_file(path))
            continue;
        *found = 1;
        if (candidates[i].is_index)
            return open_shards(ck, dir, path, candidates[i].torch);
        return add_weights(ck, path, candidates[i].torch);
    }
    return SDC_OK;
}
