/* Internals of sdc_checkpoint shared by the weights/ files that build it: the per-component
 * name tables and what the layout readers learn on the way (configs, markers). */
#ifndef SDC_WEIGHTS_CHECKPOINT_IMPL_H
#define SDC_WEIGHTS_CHECKPOINT_IMPL_H

#include <stddef.h>

#include "weights/checkpoint.h"
#include "weights/name_map.h"
#include "weights/safetensors.h"

/* Longest internal name accepted; real ones stay below 100 characters. */
#define SDC_CK_NAME_MAX 256

typedef struct sdc_ck_entry {
    char *name;        /* internal name, owned */
    sdc_tensor tensor; /* view into a mapped file */
    /* non-NULL: the model holds this tensor as blocks of this type, quantised at load
     * (sdc_checkpoint_hold_as), and its mapped pages are not read again */
    const sdc_qtype_info *held_as;
} sdc_ck_entry;

/* One component's tensors with an O(1) name index. */
typedef struct sdc_ck_table {
    sdc_ck_entry *entries;
    size_t count, capacity;
    sdc_name_map index; /* name -> entry index; keys borrowed from entries[].name */
} sdc_ck_table;

/* What the layout readers found besides tensors; -1 = not said. */
typedef struct sdc_ck_facts {
    int sdxl_marker;     /* conditioner.* keys, text_encoder_2, an XL pipeline class */
    sdc_text_said text[2]; /* SDC_COMPONENT_TEXT, SDC_COMPONENT_TEXT2 */
    int prediction;      /* scheduler config or file metadata, an sdc_prediction */
    const char *prediction_source;
    char *title;           /* single files: the modelspec.title metadata (owned), or NULL */
    char *scheduler_class; /* diffusers: scheduler_config.json's _class_name (owned), or NULL */
} sdc_ck_facts;

/* A component's weights made at load, in a mapped temporary file (held_weights.c). */
typedef struct sdc_ck_held {
    void *map;
    size_t size;
} sdc_ck_held;

struct sdc_checkpoint {
    char *path;
    char *vae_path;
    char *hash_path;
    char *tokenizer_dir;
    sdc_layout layout;
    sdc_family family;
    sdc_prediction prediction;
    const char *prediction_source;
    int unet_in_channels, context_dim;
    int text_layers;
    sdc_ck_facts facts;
    sdc_safetensors **files; /* every mapped file, owned */
    size_t file_count, file_capacity;
    sdc_ck_table tables[SDC_COMPONENT_COUNT];
    const char **unused; /* names borrowed from the files */
    size_t unused_count, unused_capacity;
    sdc_ck_held held[SDC_COMPONENT_COUNT];
};

/* --- tables (checkpoint_table.c) --- */
void sdc_ck_table_free(sdc_ck_table *t);
/* Adds `name` -> `tensor`; a name already present is a format error naming `path`. */
sdc_status sdc_ck_table_add(sdc_ck_table *t, const char *name, const sdc_tensor *tensor,
                            const char *path);
const sdc_ck_entry *sdc_ck_table_find(const sdc_ck_table *t, const char *name);

/* --- weights made at load (held_weights.c) --- */
/* Drops the component's held pages from the resident set; returns the bytes. */
size_t sdc_ck_release_held(const sdc_checkpoint *ck, sdc_component component);
void sdc_ck_unmap_held(sdc_checkpoint *ck);

/* --- bookkeeping (checkpoint.c) --- */
/* Opens `path` (safetensors, or a PyTorch .ckpt through weights/ckpt.h) and keeps it in
 * ck->files; *st is the opened file. */
sdc_status sdc_ck_add_file(sdc_checkpoint *ck, const char *path, sdc_safetensors **st);
/* Like sdc_ck_add_file for a file that can only be a PyTorch checkpoint (a diffusers .bin):
 * anything else is refused as such. */
sdc_status sdc_ck_add_torch_file(sdc_checkpoint *ck, const char *path, sdc_safetensors **st);
/* Closes the files opened after the first `count` (undoing a failed replacement). */
void sdc_ck_drop_files(sdc_checkpoint *ck, size_t count);
sdc_status sdc_ck_note_unused(sdc_checkpoint *ck, const char *name);

/* --- layouts --- */
/* layout_single.c: maps a single LDM file's tensors into ck->tables. */
sdc_status sdc_ck_load_single(sdc_checkpoint *ck);
/* layout_diffusers.c: opens a diffusers folder's components and configs. */
sdc_status sdc_ck_load_diffusers(sdc_checkpoint *ck);
/* layout_controlnet.c: a ControlNet file or diffusers ControlNetModel folder as the UNet
 * component (see sdc_checkpoint_open_controlnet). */
sdc_status sdc_ck_load_controlnet(sdc_checkpoint *ck, int is_dir);
/* layout_diffusers.c: when `dir` holds vocab.json + merges.txt, makes it the model's tokenizer
 * folder and takes the pad token from its special_tokens_map.json (if any). */
sdc_status sdc_ck_find_tokenizer(sdc_checkpoint *ck, const char *dir);
/* layout_diffusers.c: opens the weights of one diffusers component folder (a safetensors file
 * or the shards of an index, .fp16. variants too) into ck->files[*first ..]. Sets *found 0
 * (and returns OK) when the folder holds no weights file. */
sdc_status sdc_ck_open_component_dir(sdc_checkpoint *ck, const char *dir, size_t *first,
                                     int *found);
/* vae_names.c: maps the VAE tensors of ck->files[first ..] (LDM or diffusers naming,
 * "first_stage_model." stripped) into `table`; others are noted unused when note_unused. */
sdc_status sdc_ck_map_vae(sdc_checkpoint *ck, size_t first, sdc_ck_table *table,
                          int note_unused);

/* family.c: fills family, prediction, channels, text properties from tables and facts. */
void sdc_ck_detect(sdc_checkpoint *ck);

#endif
