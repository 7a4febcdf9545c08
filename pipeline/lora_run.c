#include "pipeline/lora_run.h"

#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clip/prompt_chunks.h"
#include "ops/error.h"
#include "ops/log.h"
#include "pipeline/lora_tags.h"
#include "weights/sha256.h"

/* The conditioner caches encoded prompts: a change of the text encoder's weights or of the
 * embeddings starts a new one. */
static void drop_conditioner(sdc_model *m)
{
    sdc_conditioner_free(m->cond);
    m->cond = NULL;
}

/* DIR/NAME.safetensors, else DIR/NAME.pt, else DIR/NAME.ckpt (AUTOMATIC1111's order of
 * preference); DIR = p->lora_dir or the "loras" folder beside the model. */
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
    static const char *const ext[] = {"safetensors", "pt", "ckpt"};
    for (int i = 0; i < 3; i++) {
        int n = snprintf(path, cap, "%s/%s.%s", dir, name, ext[i]);
        if (n < 0 || (size_t)n >= cap)
            return sdc_fail(SDC_ERR_ARG, "LoRA '%s': path too long", name);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            return SDC_OK;
    }
    return sdc_fail(SDC_ERR_IO, "LoRA '%s' of the prompt: no file %s/%s.safetensors (nor "
                    ".pt, .ckpt)", name, dir, name);
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
    if (st == SDC_OK)
        sdc_log(SDC_LOG_INFO, "LoRA: %d files applied, %.1f MiB of merged weight copies",
                count + p->lora_count,
                (double)sdc_lora_merged_bytes(out->stack) / (1024.0 * 1024.0));
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


/* SDXL's encoders (both, or the refiner's bigG alone) take the parts of the pair files. */
static sdc_status load_dbs(const sdc_model *m, const char *dir, sdc_pipeline_embeddings *e)
{
    int pairs = m->te2 != NULL;
    sdc_status s = SDC_OK;
    if (m->te)
        s = sdc_embedding_db_load(&e->first, dir, m->tok, sdc_text_encoder_width(m->te),
                                  pairs ? "clip_l" : NULL);
    if (s == SDC_OK && m->te2)
        s = sdc_embedding_db_load(&e->second, dir, m->tok, sdc_text_encoder_width(m->te2),
                                  "clip_g");
    if (s != SDC_OK) {
        sdc_embedding_db_free(&e->first);
        sdc_embedding_db_free(&e->second);
        memset(e, 0, sizeof *e);
    }
    return s;
}

sdc_status sdc_pipeline_embeddings_load(sdc_model *m, const sdc_generate_params *p,
                                        sdc_pipeline_embeddings *e)
{
    memset(e, 0, sizeof *e);
    if (!p->embd_dir)
        return SDC_OK;
    sdc_status s = load_dbs(m, p->embd_dir, e);
    if (s == SDC_OK) {
        drop_conditioner(m);
        m->embeddings = m->te ? &e->first : NULL;
        m->embeddings2 = m->te2 ? &e->second : NULL;
    }
    return s;
}

void sdc_pipeline_embeddings_release(sdc_model *m, sdc_pipeline_embeddings *e)
{
    if (m->embeddings || m->embeddings2) {
        drop_conditioner(m);
        m->embeddings = m->embeddings2 = NULL;
    }
    sdc_embedding_db_free(&e->first);
    sdc_embedding_db_free(&e->second);
}

/* Appends "name: hash" for each embedding of db that `prompt` uses, in order of first use
 * (AUTOMATIC1111 drops ':' and ',' from the names there). */
static sdc_status write_used(FILE *f, const sdc_model *m, const sdc_embedding_db *db,
                             const char *prompt, int *written)
{
    sdc_token_chunk *chunks;
    size_t count;
    sdc_status s = sdc_prompt_to_chunks_embedded(m->tok, prompt, 0, 1, db, &chunks, &count);
    if (s != SDC_OK)
        return s;
    const sdc_embedding **seen = calloc(db->count + 1, sizeof *seen);
    size_t n_seen = 0;
    for (size_t c = 0; seen && s == SDC_OK && c < count; c++)
        for (int t = 0; s == SDC_OK && t < SDC_CLIP_CONTEXT; t++) {
            const sdc_embedding *e = sdc_embedding_db_owner(db, chunks[c].vectors[t]);
            size_t k = 0;
            while (e && k < n_seen && seen[k] != e)
                k++;
            if (!e || k < n_seen)
                continue;
            seen[n_seen++] = e;
            uint8_t digest[32];
            char hex[65];
            s = sdc_sha256_file(e->path, digest);
            sdc_sha256_hex(digest, hex);
            fprintf(f, "%s", (*written)++ ? ", " : "");
            for (const char *ch = e->name; s == SDC_OK && *ch; ch++)
                if (*ch != ':' && *ch != ',')
                    fputc(*ch, f);
            fprintf(f, ": %.12s", hex);
        }
    if (!seen)
        s = sdc_fail(SDC_ERR_NOMEM, "out of memory for TI hashes");
    free(seen);
    free(chunks);
    return s;
}

sdc_status sdc_pipeline_ti_hashes(const sdc_model *m, const sdc_generate_params *p,
                                  char **text)
{
    *text = NULL;
    if (!p->embd_dir || (!m->te && !m->te2))
        return SDC_OK;
    sdc_pipeline_embeddings e;
    memset(&e, 0, sizeof e);
    sdc_status s = load_dbs(m, p->embd_dir, &e);
    const sdc_embedding_db *db = m->te ? &e.first : &e.second;
    char *stripped = NULL;
    sdc_lora_tag *tags = NULL;
    int tag_count = 0;
    if (s == SDC_OK)
        s = sdc_lora_tags_parse(p->prompt ? p->prompt : "", &stripped, &tags, &tag_count);
    size_t size = 0;
    int written = 0;
    FILE *f = s == SDC_OK ? open_memstream(text, &size) : NULL;
    if (s == SDC_OK && !f)
        s = sdc_fail(SDC_ERR_NOMEM, "out of memory for TI hashes");
    if (f) {
        s = write_used(f, m, db, stripped, &written);
        if (s == SDC_OK && p->negative_prompt)
            s = write_used(f, m, db, p->negative_prompt, &written);
        fclose(f);
    }
    if (s != SDC_OK || !written) {
        free(*text);
        *text = NULL;
    }
    free(stripped);
    sdc_lora_tags_free(tags, tag_count);
    sdc_embedding_db_free(&e.first); /* m never pointed to these */
    sdc_embedding_db_free(&e.second);
    return s;
}
