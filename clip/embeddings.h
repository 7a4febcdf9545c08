/* Textual-inversion embeddings (AUTOMATIC1111): a folder of files whose names are words of
 * the prompt. `.safetensors` hold the vectors as `emb_params` [n, W]; `.pt` (torch.save) as
 * string_to_param["*"], read by the restricted unpickler; SDXL's as a pair `clip_l` [n, 768]
 * and `clip_g` [n, 1280], one part per text encoder. Where the tokens of a name occur in a
 * prompt, the chunker (prompt_chunks.h) puts n placeholder tokens whose input rows are these
 * vectors. */
#ifndef SDC_CLIP_EMBEDDINGS_H
#define SDC_CLIP_EMBEDDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "clip/tokenizer.h"

typedef struct sdc_embedding {
    char *name;     /* the file name without its extension */
    char *path;     /* the file (for its hash) */
    int vectors;    /* n, 1..75 */
    float *data;    /* [n, W] */
    int32_t *ids;   /* the name's tokens */
    size_t n_ids;
} sdc_embedding;

typedef struct sdc_embedding_db {
    sdc_embedding *items; /* longest names (in tokens) first, as A1111 tries them */
    size_t count;
    int width;            /* W: the text encoder's */
} sdc_embedding_db;

/* Every embedding of `dir` of width W for one text encoder: `part` NULL for a model with one
 * (single-tensor files), "clip_l" / "clip_g" for SDXL's (that part of the pair files). Files
 * of another width or kind are left out (they belong to another model, as AUTOMATIC1111
 * skips them). A malformed file is an error naming it: a pair whose parts have different
 * vector counts is one. */
sdc_status sdc_embedding_db_load(sdc_embedding_db *db, const char *dir, const sdc_tokenizer *tok,
                                 int width, const char *part);
void sdc_embedding_db_free(sdc_embedding_db *db);
/* The embedding whose name's tokens start ids [0, n), or NULL. */
const sdc_embedding *sdc_embedding_db_match(const sdc_embedding_db *db, const int32_t *ids,
                                            size_t n);
/* The embedding whose vectors hold `row` (a chunk's vectors[] entry), or NULL. */
const sdc_embedding *sdc_embedding_db_owner(const sdc_embedding_db *db, const float *row);

#endif
