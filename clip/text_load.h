/* Loading helpers of the text encoders: the encoder's layer source (its checkpoint
 * component and name table) and Hugging Face CLIP internal names ("<prefix>.weight",
 * "<prefix>.bias"). Linear maps are the one layer type (ops/layer.h) loaded by the one
 * loader (weights/layer_load.h); shapes are checked against what the caller derived so far.
 * Every error names the checkpoint file and the tensor. */
#ifndef SDC_CLIP_TEXT_LOAD_H
#define SDC_CLIP_TEXT_LOAD_H

#include "ops/layer.h"
#include "weights/layer_load.h"

/* Longest name the text encoder builds ("text_model.encoder.layers.N.self_attn.q_proj"). */
#define SDC_TEXT_NAME_MAX 128

/* Largest width / MLP width accepted from a checkpoint (real models: 1280 and 5120). */
#define SDC_TEXT_MAX_DIM 65536

/* Text encoder `component` of ck, registering layers in `table` (may be NULL). */
sdc_layer_source sdc_text_source(const sdc_checkpoint *ck, sdc_component component,
                                 sdc_layer_table *table);

/* The text tensor "<prefix>.<suffix>" (suffix may be NULL), or an error naming it. */
sdc_status sdc_text_tensor(const sdc_layer_source *src, const char *prefix, const char *suffix,
                           const sdc_tensor **out);

/* Fails unless `t` ("<name>") is 2-D with shape [rows, cols]; rows <= 0 accepts any row
 * count up to SDC_TEXT_MAX_DIM. */
sdc_status sdc_text_check_matrix(const sdc_layer_source *src, const char *name,
                                 const sdc_tensor *t, int rows, int cols);

/* Loads the linear map "<prefix>": weight [out, in] and bias [out]; out <= 0 takes the row
 * count from the weight (sdc_layer_out). */
sdc_status sdc_text_linear_load(const sdc_layer_source *src, const char *prefix, int out,
                                int in, sdc_layer *l);

/* Loads the LayerNorm "<prefix>.weight" and "<prefix>.bias", both [dim]. */
sdc_status sdc_text_norm_load(const sdc_layer_source *src, const char *prefix, int dim,
                              sdc_norm *n);

#endif
