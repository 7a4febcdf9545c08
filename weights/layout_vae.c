/* VAE tensors in whatever naming they come: diffusers vae/ folders, LDM single files, and
 * VAE-only files such as vae-ft-mse-840000-ema-pruned.safetensors (encoder.* / decoder.*
 * without the "first_stage_model." prefix). Also the --vae replacement. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/error.h"
#include "weights/checkpoint_impl.h"
#include "weights/json_file.h"
#include "weights/name_rules.h"

static const char ldm_prefix[] = "first_stage_model.";
#define LDM_PREFIX_LEN (sizeof ldm_prefix - 1)

/* With any "first_stage_model." key present (a whole checkpoint), only those are the VAE. */
static int has_ldm_prefix(const sdc_checkpoint *ck, size_t first)
{
    for (size_t f = first; f < ck->file_count; f++)
        for (size_t i = 0; i < sdc_safetensors_count(ck->files[f]); i++)
            if (strncmp(sdc_safetensors_entry(ck->files[f], i)->name, ldm_prefix,
                        LDM_PREFIX_LEN) == 0)
                return 1;
    return 0;
}

/* The name to map, or NULL when the tensor is not part of the VAE. */
static const char *vae_source_name(const char *name, int prefixed)
{
    if (!prefixed)
        return name;
    return strncmp(name, ldm_prefix, LDM_PREFIX_LEN) == 0 ? name + LDM_PREFIX_LEN : NULL;
}

sdc_status sdc_ck_map_vae(sdc_checkpoint *ck, size_t first, sdc_ck_table *table,
                          int note_unused)
{
    int prefixed = has_ldm_prefix(ck, first);
    sdc_diffusers_hints hints;
    sdc_diffusers_hints_init(&hints);
    for (size_t f = first; f < ck->file_count; f++)
        for (size_t i = 0; i < sdc_safetensors_count(ck->files[f]); i++) {
            const char *n = vae_source_name(sdc_safetensors_entry(ck->files[f], i)->name,
                                            prefixed);
            if (n)
                sdc_diffusers_hints_scan(&hints, n);
        }
    for (size_t f = first; f < ck->file_count; f++) {
        const char *file = sdc_safetensors_path(ck->files[f]);
        for (size_t i = 0; i < sdc_safetensors_count(ck->files[f]); i++) {
            const sdc_st_entry *e = sdc_safetensors_entry(ck->files[f], i);
            const char *n = vae_source_name(e->name, prefixed);
            char name[SDC_CK_NAME_MAX];
            sdc_status s = SDC_OK;
            if (n && sdc_diffusers_vae_name(&hints, n, name, sizeof name) == 1)
                s = sdc_ck_table_add(table, name, &e->tensor, file);
            else if (note_unused)
                s = sdc_ck_note_unused(ck, e->name);
            if (s != SDC_OK)
                return s;
        }
    }
    return SDC_OK;
}

/* Opens the VAE weights of a file, a vae/ folder or a whole diffusers folder. */
static sdc_status open_vae_source(sdc_checkpoint *ck, const char *vae_path, size_t *first)
{
    struct stat sb;
    *first = ck->file_count;
    if (stat(vae_path, &sb) != 0)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open VAE", vae_path);
    if (!S_ISDIR(sb.st_mode)) {
        sdc_safetensors *st;
        return sdc_ck_add_file(ck, vae_path, &st);
    }
    char dir[PATH_MAX], index[PATH_MAX];
    if (!sdc_path_join(index, sizeof index, vae_path, "model_index.json") ||
        !sdc_path_join(dir, sizeof dir, vae_path, "vae"))
        return sdc_fail(SDC_ERR_ARG, "%s: path too long", vae_path);
    int found;
    sdc_status s = sdc_ck_open_component_dir(ck, sdc_is_file(index) ? dir : vae_path, first,
                                             &found);
    if (s == SDC_OK && !found)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: no VAE weights (diffusion_pytorch_model.safetensors)",
                     vae_path);
    return s;
}

sdc_status sdc_checkpoint_replace_vae(sdc_checkpoint *ck, const char *vae_path)
{
    size_t keep = ck->file_count, first;
    sdc_ck_table table = {0};
    char *path = strdup(vae_path);
    sdc_status s = path ? open_vae_source(ck, vae_path, &first)
                        : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", vae_path);
    if (s == SDC_OK)
        s = sdc_ck_map_vae(ck, first, &table, 0);
    if (s == SDC_OK && !sdc_ck_table_find(&table, "decoder.conv_in.weight"))
        s = sdc_fail(SDC_ERR_FORMAT, "%s: no VAE decoder tensors (decoder.conv_in.weight with "
                     "or without first_stage_model., or diffusers names)", vae_path);
    if (s != SDC_OK) {
        sdc_ck_table_free(&table);
        sdc_ck_drop_files(ck, keep);
        free(path);
        return s;
    }
    sdc_ck_table_free(&ck->tables[SDC_COMPONENT_VAE]);
    ck->tables[SDC_COMPONENT_VAE] = table;
    free(ck->vae_path);
    ck->vae_path = path;
    return SDC_OK;
}
