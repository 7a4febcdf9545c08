/* Opening and closing checkpoints, lookups and the properties model code asks for. The
 * layouts live in layout_*.c, family and prediction rules in family.c. */
#include "weights/checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/error.h"
#include "ops/names.h"
#include "weights/checkpoint_impl.h"
#include "weights/ckpt.h"
#include "weights/gguf.h"
#include "weights/gguf_table.h"
#include "weights/hash_cache.h"

/* The families by the names of `sdc info`, logs and reports. */
static const sdc_name_row family_rows[SDC_FAMILY_COUNT] = {
    [SDC_FAMILY_UNKNOWN] = {"unknown", NULL, NULL, "no family sdc recognises"},
    [SDC_FAMILY_SD1] = {"sd1", NULL, NULL, "Stable Diffusion 1.x"},
    [SDC_FAMILY_SD2] = {"sd2", NULL, NULL, "Stable Diffusion 2.x"},
    [SDC_FAMILY_SDXL] = {"sdxl", NULL, NULL, "Stable Diffusion XL"},
    [SDC_FAMILY_SD2_X4] = {"sd2-x4-upscaler", NULL, NULL, "Stable Diffusion 2 x4 upscaler"},
};

/* The aliases are the prediction_type spellings of diffusers configs and file metadata. */
static const sdc_name_row prediction_rows[SDC_PREDICTION_COUNT] = {
    [SDC_PREDICTION_EPS] = {"eps", "epsilon", NULL, "the noise (SD 1.x, SD 2.x base)"},
    [SDC_PREDICTION_V] = {"v", "v_prediction", NULL, "v (SD 2.x 768-v)"},
};

/* sdc_family_* and sdc_prediction_*: count, name, display_name, description, from_name */
SDC_NAME_TABLE_API(sdc_family, family_rows)
SDC_NAME_TABLE_API(sdc_prediction, prediction_rows)

static const char *const component_names[SDC_COMPONENT_COUNT] = {
    [SDC_COMPONENT_UNET] = "unet",
    [SDC_COMPONENT_VAE] = "vae",
    [SDC_COMPONENT_TEXT] = "text encoder",
    [SDC_COMPONENT_TEXT2] = "text encoder 2",
};

static const char *const layout_names[SDC_LAYOUT_COUNT] = {
    [SDC_LAYOUT_SINGLE_FILE] = "single file",
    [SDC_LAYOUT_DIFFUSERS] = "diffusers folder",
};

const char *sdc_component_name(sdc_component c)
{
    return (unsigned)c < SDC_COMPONENT_COUNT ? component_names[c] : "?";
}

const char *sdc_layout_name(sdc_layout l)
{
    return (unsigned)l < SDC_LAYOUT_COUNT ? layout_names[l] : "?";
}

static sdc_status add_file(sdc_checkpoint *ck, const char *path, int torch_only,
                           sdc_safetensors **st)
{
    if (ck->file_count == ck->file_capacity) {
        size_t cap = ck->file_capacity ? 2 * ck->file_capacity : 4;
        sdc_safetensors **grown = realloc(ck->files, cap * sizeof *grown);
        if (!grown)
            return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
        ck->files = grown;
        ck->file_capacity = cap;
    }
    /* a FIFO would block the sniffing fopen() below, a device never end */
    sdc_status s = sdc_check_regular_file(path);
    if (s != SDC_OK)
        return s;
    /* PyTorch .ckpt and GGUF files come through the same tensor-table interface */
    if (torch_only || sdc_ckpt_sniff(path))
        s = sdc_ckpt_open(path, st);
    else if (sdc_gguf_sniff(path))
        s = sdc_gguf_open_table(path, st);
    else
        s = sdc_safetensors_open(path, st);
    if (s == SDC_OK)
        ck->files[ck->file_count++] = *st;
    return s;
}

sdc_status sdc_ck_add_file(sdc_checkpoint *ck, const char *path, sdc_safetensors **st)
{
    return add_file(ck, path, 0, st);
}

sdc_status sdc_ck_add_torch_file(sdc_checkpoint *ck, const char *path, sdc_safetensors **st)
{
    return add_file(ck, path, 1, st);
}

void sdc_ck_drop_files(sdc_checkpoint *ck, size_t count)
{
    while (ck->file_count > count)
        sdc_safetensors_close(ck->files[--ck->file_count]);
}

sdc_status sdc_ck_note_unused(sdc_checkpoint *ck, const char *name)
{
    if (ck->unused_count == ck->unused_capacity) {
        size_t cap = ck->unused_capacity ? 2 * ck->unused_capacity : 64;
        const char **grown = realloc(ck->unused, cap * sizeof *grown);
        if (!grown)
            return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", ck->path);
        ck->unused = grown;
        ck->unused_capacity = cap;
    }
    ck->unused[ck->unused_count++] = name;
    return SDC_OK;
}

static sdc_checkpoint *checkpoint_new(const char *path)
{
    sdc_checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck)
        return NULL;
    ck->path = strdup(path);
    ck->facts = (sdc_ck_facts){.prediction = -1};
    for (int i = 0; i < 2; i++)
        ck->facts.text[i] = (sdc_text_said){0, -1, -1};
    if (!ck->path) {
        free(ck);
        return NULL;
    }
    return ck;
}

static sdc_status open_as(const char *path, int controlnet, sdc_checkpoint **out)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    sdc_checkpoint *ck = checkpoint_new(path);
    if (!ck)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    int is_dir = S_ISDIR(sb.st_mode);
    ck->layout = is_dir ? SDC_LAYOUT_DIFFUSERS : SDC_LAYOUT_SINGLE_FILE;
    sdc_status s = controlnet ? sdc_ck_load_controlnet(ck, is_dir)
                   : is_dir   ? sdc_ck_load_diffusers(ck)
                              : sdc_ck_load_single(ck);
    if (s != SDC_OK) {
        sdc_checkpoint_close(ck);
        return s;
    }
    sdc_ck_detect(ck);
    *out = ck;
    return SDC_OK;
}

sdc_status sdc_checkpoint_open(const char *path, sdc_checkpoint **out)
{
    return open_as(path, 0, out);
}

sdc_status sdc_checkpoint_open_controlnet(const char *path, sdc_checkpoint **out)
{
    return open_as(path, 1, out);
}

void sdc_checkpoint_close(sdc_checkpoint *ck)
{
    if (!ck)
        return;
    for (int c = 0; c < SDC_COMPONENT_COUNT; c++)
        sdc_ck_table_free(&ck->tables[c]);
    sdc_ck_drop_files(ck, 0);
    sdc_ck_unmap_held(ck);
    free(ck->files);
    free(ck->unused);
    free(ck->tokenizer_dir);
    free(ck->facts.title);
    free(ck->facts.scheduler_class);
    free(ck->hash_path);
    free(ck->vae_path);
    free(ck->path);
    free(ck);
}

sdc_status sdc_checkpoint_load(const sdc_checkpoint *ck, const sdc_tensor *t)
{
    size_t nbytes = (size_t)sdc_tensor_numel(t) * sdc_dtype_size(t->dtype);
    sdc_status s = SDC_OK;
    for (size_t f = 0; f < ck->file_count && s == SDC_OK; f++)
        s = sdc_safetensors_load(ck->files[f], t->data, nbytes);
    return s;
}

static const sdc_ck_entry *find(const sdc_checkpoint *ck, sdc_component component,
                                const char *name)
{
    if ((unsigned)component >= SDC_COMPONENT_COUNT)
        return NULL;
    return sdc_ck_table_find(&ck->tables[component], name);
}

const sdc_tensor *sdc_checkpoint_get(const sdc_checkpoint *ck, sdc_component component,
                                     const char *name)
{
    const sdc_ck_entry *e = find(ck, component, name);
    return e && sdc_checkpoint_load(ck, &e->tensor) == SDC_OK ? &e->tensor : NULL;
}

const sdc_tensor *sdc_checkpoint_peek(const sdc_checkpoint *ck, sdc_component component,
                                      const char *name)
{
    const sdc_ck_entry *e = find(ck, component, name);
    return e ? &e->tensor : NULL;
}

/* The file a component's tensors come from, for messages. */
static const char *component_source(const sdc_checkpoint *ck, sdc_component component)
{
    return component == SDC_COMPONENT_VAE && ck->vae_path ? ck->vae_path : ck->path;
}

sdc_status sdc_checkpoint_require(const sdc_checkpoint *ck, sdc_component component,
                                  const char *name, const sdc_tensor **out)
{
    const sdc_ck_entry *e = find(ck, component, name);
    *out = NULL;
    if (!e)
        return sdc_fail(SDC_ERR_FORMAT, "%s: %s tensor '%s' is missing",
                        component_source(ck, component), sdc_component_name(component), name);
    sdc_status s = sdc_checkpoint_load(ck, &e->tensor);
    *out = s == SDC_OK ? &e->tensor : NULL;
    return s;
}

sdc_status sdc_checkpoint_check(const sdc_checkpoint *ck, sdc_component component,
                                const char *const *names, size_t count)
{
    enum { LISTED = 4 };
    char list[512] = "";
    size_t missing = 0, used = 0;
    for (size_t i = 0; i < count; i++) {
        if (find(ck, component, names[i])) /* present; its data is read when used */
            continue;
        if (missing++ < LISTED && used < sizeof list) {
            int n = snprintf(list + used, sizeof list - used, "%s'%s'", used ? ", " : "", names[i]);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (!missing)
        return SDC_OK;
    return sdc_fail(SDC_ERR_FORMAT, "%s: %s lacks %zu of %zu required tensors: %s%s",
                    component_source(ck, component), sdc_component_name(component), missing,
                    count, list, missing > LISTED ? ", ..." : "");
}

size_t sdc_checkpoint_count(const sdc_checkpoint *ck, sdc_component component)
{
    return (unsigned)component < SDC_COMPONENT_COUNT ? ck->tables[component].count : 0;
}

const char *sdc_checkpoint_name_at(const sdc_checkpoint *ck, sdc_component component,
                                   size_t index, const sdc_tensor **tensor)
{
    if (index >= sdc_checkpoint_count(ck, component))
        return NULL;
    const sdc_ck_entry *e = &ck->tables[component].entries[index];
    if (tensor)
        *tensor = &e->tensor;
    return e->name;
}

size_t sdc_checkpoint_release_range(const sdc_checkpoint *ck, const void *data, size_t nbytes)
{
    size_t released = 0;
    for (size_t f = 0; f < ck->file_count && !released; f++)
        released = sdc_safetensors_release(ck->files[f], data, nbytes);
    return released;
}

size_t sdc_checkpoint_release_tensor(const sdc_checkpoint *ck, const sdc_tensor *t)
{
    size_t nbytes = (size_t)sdc_tensor_numel(t) * sdc_dtype_size(t->dtype);
    /* a quantised GGUF tensor's blocks are mapped; its f32 expansion is not */
    if (t->quant)
        nbytes = (size_t)(sdc_tensor_numel(t) / t->quant->block) * t->quant->block_bytes;
    return sdc_checkpoint_release_range(ck, t->quant ? t->blocks : t->data, nbytes);
}

size_t sdc_checkpoint_release(const sdc_checkpoint *ck, sdc_component component)
{
    size_t released = 0;
    for (size_t i = 0; i < sdc_checkpoint_count(ck, component); i++)
        released += sdc_checkpoint_release_tensor(ck, &ck->tables[component].entries[i].tensor);
    if ((unsigned)component < SDC_COMPONENT_COUNT)
        released += sdc_ck_release_held(ck, component);
    return released;
}

size_t sdc_checkpoint_populate(const sdc_checkpoint *ck, const void *data, size_t nbytes)
{
    size_t populated = 0;
    for (size_t f = 0; f < ck->file_count && !populated; f++)
        populated = sdc_safetensors_populate(ck->files[f], data, nbytes);
    return populated;
}

void sdc_checkpoint_hold_as(sdc_checkpoint *ck, sdc_component component, const char *name,
                            const sdc_qtype_info *q)
{
    /* the table is ck's own, so not const here */
    sdc_ck_entry *e = (unsigned)component < SDC_COMPONENT_COUNT
                          ? (sdc_ck_entry *)sdc_ck_table_find(&ck->tables[component], name)
                          : NULL;
    if (e)
        e->held_as = q;
}

const sdc_qtype_info *sdc_checkpoint_held_as(const sdc_checkpoint *ck, sdc_component component,
                                             size_t index)
{
    return index < sdc_checkpoint_count(ck, component)
               ? ck->tables[component].entries[index].held_as
               : NULL;
}

size_t sdc_checkpoint_unused_count(const sdc_checkpoint *ck) { return ck->unused_count; }

const char *sdc_checkpoint_unused_name(const sdc_checkpoint *ck, size_t index)
{
    return index < ck->unused_count ? ck->unused[index] : NULL;
}

int64_t sdc_checkpoint_param_count(const sdc_checkpoint *ck, sdc_component component)
{
    int64_t n = 0;
    for (size_t i = 0; i < sdc_checkpoint_count(ck, component); i++) {
        const sdc_tensor *t = &ck->tables[component].entries[i].tensor;
        if (sdc_dtype_is_weight(t->dtype))
            n += sdc_tensor_numel(t);
    }
    return n;
}

sdc_dtype sdc_checkpoint_dtype(const sdc_checkpoint *ck, sdc_component component)
{
    int64_t per[SDC_DTYPE_COUNT] = {0};
    for (size_t i = 0; i < sdc_checkpoint_count(ck, component); i++) {
        const sdc_tensor *t = &ck->tables[component].entries[i].tensor;
        if (sdc_dtype_is_weight(t->dtype))
            per[t->dtype] += sdc_tensor_numel(t);
    }
    sdc_dtype best = SDC_DTYPE_F32;
    for (int d = 0; d < SDC_DTYPE_COUNT; d++)
        if (per[d] > per[best])
            best = (sdc_dtype)d;
    return best;
}

void sdc_checkpoint_set_prediction(sdc_checkpoint *ck, sdc_prediction prediction)
{
    ck->prediction = prediction;
    ck->prediction_source = "override";
}

sdc_status sdc_checkpoint_short_hash(const sdc_checkpoint *ck, char hash[11])
{
    char hex[65];
    sdc_status s = sdc_file_sha256_cached(ck->hash_path, hex);
    if (s != SDC_OK)
        return s;
    memcpy(hash, hex, 10);
    hash[10] = '\0';
    return SDC_OK;
}

const char *sdc_checkpoint_path(const sdc_checkpoint *ck) { return ck->path; }
const char *sdc_checkpoint_vae_path(const sdc_checkpoint *ck) { return ck->vae_path; }
const char *sdc_checkpoint_hash_path(const sdc_checkpoint *ck) { return ck->hash_path; }
sdc_layout sdc_checkpoint_layout(const sdc_checkpoint *ck) { return ck->layout; }
sdc_family sdc_checkpoint_family(const sdc_checkpoint *ck) { return ck->family; }
sdc_prediction sdc_checkpoint_prediction(const sdc_checkpoint *ck) { return ck->prediction; }
const char *sdc_checkpoint_prediction_source(const sdc_checkpoint *ck)
{
    return ck->prediction_source;
}
const char *sdc_checkpoint_title(const sdc_checkpoint *ck) { return ck->facts.title; }
const char *sdc_checkpoint_scheduler_class(const sdc_checkpoint *ck)
{
    return ck->facts.scheduler_class;
}
int sdc_checkpoint_unet_in_channels(const sdc_checkpoint *ck) { return ck->unet_in_channels; }
int sdc_checkpoint_context_dim(const sdc_checkpoint *ck) { return ck->context_dim; }
int sdc_checkpoint_text_layers(const sdc_checkpoint *ck) { return ck->text_layers; }
sdc_text_said sdc_checkpoint_text_said(const sdc_checkpoint *ck, sdc_component text)
{
    return ck->facts.text[text == SDC_COMPONENT_TEXT2];
}
const char *sdc_checkpoint_tokenizer_dir(const sdc_checkpoint *ck) { return ck->tokenizer_dir; }

sdc_status sdc_checkpoint_use_vocab_dir(sdc_checkpoint *ck, const char *dir)
{
    return ck->tokenizer_dir || !dir ? SDC_OK : sdc_ck_find_tokenizer(ck, dir);
}
