/* Textual-inversion embeddings (AUTOMATIC1111): a folder of files whose names are words of
 * the prompt. `.safetensors` hold the vectors as `emb_params` [n, W]; `.pt` (torch.save) as
 * string_to_param["*"], read by the restricted unpickler. Where the tokens of a name occur
 * in a prompt, the chunker (prompt_chunks.h) puts n placeholder tokens whose input rows are
 * these vectors. */
#ifndef SDC_CLIP_EMBEDDINGS_H
#define SDC_CLIP_EMBEDDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "clip/tokenizer.h"

typedef struct sdc_embedding {
    char *name;     /* the file name without its extension */
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

/* Every embedding of `dir` of width W; files of another width are left out (they belong to
 * another text encoder, as AUTOMATIC1111 skips them). A malformed file is an error naming it. */
sdc_status sdc_embedding_db_load(sdc_embedding_db *db, const char *dir, const sdc_tokenizer *tok,
                                 int width);
void sdc_embedding_db_free(sdc_embedding_db *db);
/* The embedding whose name's tokens start ids [0, n), or NULL. */
const sdc_embedding *sdc_embedding_db_match(const sdc_embedding_db *db, const int32_t *ids,
                                            size_t n);

#endif
