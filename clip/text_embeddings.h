/* Input embeddings of the CLIP text encoder ("text_model.embeddings.*"):
 *
 *   x[s, p] = token_embedding[ids[s, p]] + position_embedding[p]      // [S, P, W]
 *
 * The token table keeps the checkpoint's dtype (a private copy; rows are converted to f32
 * when looked up): as f32 it would cost 150-200 MB for 77 rows used per prompt. */
#ifndef SDC_CLIP_TEXT_EMBEDDINGS_H
#define SDC_CLIP_TEXT_EMBEDDINGS_H

#include <stdint.h>

#include "weights/layer_load.h"

/* Longest sequence accepted from a checkpoint's position table (CLIP: 77). */
#define SDC_TEXT_MAX_POSITIONS 4096
/* Largest vocabulary accepted (CLIP: 49408). */
#define SDC_TEXT_MAX_VOCAB (1 << 24)

typedef struct sdc_text_embeddings {
    int vocab;       /* V */
    int width;       /* W */
    int positions;   /* P */
    sdc_dtype dtype; /* of `tokens` (F32, F16 or BF16) */
    const void *tokens; /* [V, W] token_embedding.weight: a view of the checkpoint */
    float *position; /* [P, W] position_embedding.weight */
} sdc_text_embeddings;

/* Loads both tables; V, W and P come from their shapes. */
sdc_status sdc_text_embeddings_load(sdc_text_embeddings *e, const sdc_layer_source *src);
void sdc_text_embeddings_free(sdc_text_embeddings *e);

/* x [S, P, W] from ids [S, P], every id already checked to lie in [0, V). */
void sdc_text_embeddings_forward(const sdc_text_embeddings *e, const int32_t *ids, int S,
                                 float *x);
/* The same with rows [S * P] (may be NULL): a non-NULL rows[r] [W] replaces the token row of
 * position r (textual-inversion vectors; the position embedding is still added). */
void sdc_text_embeddings_forward_rows(const sdc_text_embeddings *e, const int32_t *ids,
                                      const float *const *rows, int S, float *x);

#endif
