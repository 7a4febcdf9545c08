#include "pipeline/lora_run.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "pipeline/lora_tags.h"

/* The conditioner caches encoded prompts: a change of the text encoder's weights or of the
 * embeddings starts a new one. */
static void drop_conditioner(sdc_model *m)
{
    sdc_conditioner_free(m->cond);
    m->cond = NULL;
}

/* DIR/NAME.safetensors, DIR = p->lora_dir or the "loras" folder beside the model. */
static sdc_status tag_path(const sdc_model *m, const sdc_generate_params *p, const char *name,
                           char *path, size_t cap)
{
    char dir[4096];
    if (p->lora_dir)
        snprintf(dir, sizeof dir, "%s", p->lora_dir);
    else {
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", m->path ? m->path : ".");
        snprintf(dir, sizeof dir, "%s/loras", dirname(copy));
    }
    int n = snprintf(path, cap, "%s/%s.safetensors", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return sdc_fail(SDC_ERR_ARG, "LoRA '%s': path too long", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return sdc_fail(SDC_ERR_IO, "LoRA '%s' of the prompt: no file %s", name, path);
    fclose(f);
    return SDC_OK;
}

/* Applies the prompt's tags, then p->loras. */
static sdc_status apply_all(sdc_model *m, const sdc_generate_params *p, sdc_lora_stack *s,
                            const sdc_lora_tag *tags, int count)
{
    sdc_status st = SDC_OK;
    for (int i = 0; st == SDC_OK && i < count; i++) {
        char path[4200];
        st = tag_path(m, p, tags[i].name, path, sizeof path);
        if (st == SDC_OK)
            st = sdc_lora_apply(s, path, tags[i].te, tags[i].unet);
    }
    for (int i = 0; st == SDC_OK && i < p->lora_count; i++)
        st = sdc_lora_apply(s, p->loras[i].path, p->loras[i].te_weight, p->loras[i].unet_weight);
    return st;
}

sdc_status sdc_pipeline_loras_apply(sdc_model *m, const sdc_generate_params *p,
                                    sdc_pipeline_loras *out)
{
    memset(out, 0, sizeof *out);
    sdc_lora_tag *tags;
    int count;
    sdc_status st = sdc_lora_tags_parse(p->prompt ? p->prompt : "", &out->prompt, &tags, &count);
    if (st != SDC_OK || (count == 0 && p->lora_count <= 0)) {
        sdc_lora_tags_free(tags, count);
        return st;
    }
    sdc_lora_targets t = {.te = m->te ? sdc_text_encoder_layer_table(m->te) : NULL,
                          .unet = sdc_unet_layers(m->unet),
                          .te2 = m->te2 ? sdc_text_encoder_layer_table(m->te2) : NULL};
    st = sdc_lora_stack_create(&t, SDC_LORA_MERGE, &out->stack);
    if (st == SDC_OK) {
        drop_conditioner(m);
        st = apply_all(m, p, out->stack, tags, count);
    }
    sdc_lora_tags_free(tags, count);
    if (st != SDC_OK)
        sdc_pipeline_loras_release(m, out);
    return st;
}

void sdc_pipeline_loras_release(sdc_model *m, sdc_pipeline_loras *l)
{
    if (l->stack) {
        sdc_lora_stack_free(l->stack);
        drop_conditioner(m);
    }
    free(l->prompt);
    memset(l, 0, sizeof *l);
}

/* Appends "name: hash" of the file at path to f. */
static sdc_status write_hash(FILE *f, int first, const char *name, int name_len,
                             const char *path)
{
    char hex[13];
    sdc_status st = sdc_lora_short_hash(path, hex);
    if (st == SDC_OK)
        fprintf(f, "%s%.*s: %s", first ? "" : ", ", name_len, name, hex);
    return st;
}

/* The name AUTOMATIC1111 gives a LoRA file: its base name without the extension. */
static int file_name(const char *path, const char **name)
{
    const char *slash = strrchr(path, '/');
    *name = slash ? slash + 1 : path;
    const char *dot = strrchr(*name, '.');
    return (int)(dot ? (size_t)(dot - *name) : strlen(*name));
}

sdc_status sdc_pipeline_lora_hashes(const sdc_model *m, const sdc_generate_params *p,
                                    char **text)
{
    *text = NULL;
    char *stripped;
    sdc_lora_tag *tags;
    int count;
    sdc_status st = sdc_lora_tags_parse(p->prompt ? p->prompt : "", &stripped, &tags, &count);
    free(stripped);
    if (st != SDC_OK || (count == 0 && p->lora_count <= 0)) {
        sdc_lora_tags_free(tags, count);
        return st;
    }
    size_t size = 0;
    FILE *f = open_memstream(text, &size);
    if (!f) {
        sdc_lora_tags_free(tags, count);
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for LoRA hashes");
    }
    for (int i = 0; st == SDC_OK && i < count; i++) {
        char path[4200];
        st = tag_path(m, p, tags[i].name, path, sizeof path);
        if (st == SDC_OK)
            st = write_hash(f, i == 0, tags[i].name, (int)strlen(tags[i].name), path);
    }
    for (int i = 0; st == SDC_OK && i < p->lora_count; i++) {
        const char *name;
        int len = file_name(p->loras[i].path, &name);
        st = write_hash(f, count == 0 && i == 0, name, len, p->loras[i].path);
    }
    fclose(f);
    sdc_lora_tags_free(tags, count);
    if (st != SDC_OK) {
        free(*text);
        *text = NULL;
    }
    return st;
}


sdc_status sdc_pipeline_embeddings_load(sdc_model *m, const sdc_generate_params *p,
                                        sdc_embedding_db *db)
{
    memset(db, 0, sizeof *db);
    if (!p->embd_dir || !m->te)
        return SDC_OK;
    sdc_status s = sdc_embedding_db_load(db, p->embd_dir, m->tok, sdc_text_encoder_width(m->te));
    if (s == SDC_OK) {
        drop_conditioner(m);
        m->embeddings = db;
    }
    return s;
}

void sdc_pipeline_embeddings_release(sdc_model *m, sdc_embedding_db *db)
{
    if (m->embeddings) {
        drop_conditioner(m);
        m->embeddings = NULL;
    }
    sdc_embedding_db_free(db);
}
