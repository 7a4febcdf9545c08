/* Loading helpers of the text encoder: linear maps and LayerNorms looked up by their
 * Hugging Face CLIP internal name ("<prefix>.weight", "<prefix>.bias"), shapes checked
 * against what the caller derived so far, converted to the kernels' format once. Every error
 * names the checkpoint file and the tensor. */
#ifndef SDC_CLIP_TEXT_LOAD_H
#define SDC_CLIP_TEXT_LOAD_H

#include "ops/weight.h"
#include "weights/checkpoint.h"

/* Longest name the text encoder builds ("text_model.encoder.layers.N.self_attn.q_proj"). */
#define SDC_TEXT_NAME_MAX 128

/* Largest width / MLP width accepted from a checkpoint (real models: 1280 and 5120). */
#define SDC_TEXT_MAX_DIM 65536

/* y = x W^T + b */
typedef struct sdc_text_linear {
    sdc_weight w; /* [out, in] */
    float *bias;  /* [out] */
} sdc_text_linear;

/* LayerNorm affine. */
typedef struct sdc_text_norm {
    float *gamma; /* [dim] */
    float *beta;  /* [dim] */
} sdc_text_norm;

/* The text tensor "<prefix>.<suffix>" (suffix may be NULL), or an error naming it. */
sdc_status sdc_text_tensor(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                           const sdc_tensor **out);

/* Fails unless `t` ("<name>") is 2-D with shape [rows, cols]; rows <= 0 accepts any row
 * count up to SDC_TEXT_MAX_DIM. */
sdc_status sdc_text_check_matrix(const sdc_checkpoint *ck, const char *name,
                                 const sdc_tensor *t, int rows, int cols);

/* Loads "<prefix>.weight" [out, in] and "<prefix>.bias" [out]; out <= 0 takes the row count
 * from the weight (then found in l->w.rows). */
sdc_status sdc_text_linear_load(const sdc_checkpoint *ck, const char *prefix, int out, int in,
                                sdc_text_linear *l);
void sdc_text_linear_free(sdc_text_linear *l);

/* Loads "<prefix>.weight" and "<prefix>.bias", both [dim]. */
sdc_status sdc_text_norm_load(const sdc_checkpoint *ck, const char *prefix, int dim,
                              sdc_text_norm *n);
void sdc_text_norm_free(sdc_text_norm *n);

#endif
