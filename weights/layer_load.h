/* The one loader of layer parameters, shared by the text encoders, the UNet and the VAE:
 * tensors are named by internal name "<prefix>.<suffix>.<leaf>" (suffix may be NULL: LDM
 * names for the UNet and VAE, Hugging Face CLIP names for text encoders), weights become
 * sdc_weight views of the mapping and vectors (biases, norm affines) f32 arrays, with shapes
 * checked against what the caller derived so far. Every layer loaded is registered in the
 * model's name table. Every error names the checkpoint file and the tensor. */
#ifndef SDC_WEIGHTS_LAYER_LOAD_H
#define SDC_WEIGHTS_LAYER_LOAD_H

#include <stddef.h>

#include "ops/layer.h"
#include "weights/checkpoint.h"
#include "weights/layer_table.h"

/* Where a model's layers come from. */
typedef struct sdc_layer_source {
    const sdc_checkpoint *ck;
    sdc_component component;
    const char *what; /* the model's name in error messages: "unet", "vae" */
    int max_dim;      /* largest channel / feature count accepted */
    sdc_layer_table *table; /* where loaded layers are registered (NULL: nowhere) */
} sdc_layer_source;

/* buf = "<prefix>[.<suffix>][.<leaf>]" (suffix and leaf may be NULL); 0 when it does not
 * fit in size bytes. */
int sdc_layer_name(char *buf, size_t size, const char *prefix, const char *suffix,
                   const char *leaf);

/* The tensor "<prefix>.<suffix>.<leaf>", or NULL when it is absent. */
const sdc_tensor *sdc_layer_find(const sdc_layer_source *src, const char *prefix,
                                 const char *suffix, const char *leaf);
/* The same tensor for its shape only: its data is not made readable (a quantised GGUF
 * matrix is not expanded by asking for its shape). */
const sdc_tensor *sdc_layer_peek(const sdc_layer_source *src, const char *prefix,
                                 const char *suffix, const char *leaf);

/* w = view of "<prefix>.<suffix>.weight" of shape [out, in, k, k] (k = 1: also [out, in]),
 * as [out, in * k * k]. `in` < 0 accepts any input width; the width found goes to *in_found
 * and the output count to w->rows. */
sdc_status sdc_layer_weight_load(const sdc_layer_source *src, const char *prefix,
                                 const char *suffix, int in, int k, sdc_weight *w,
                                 int *in_found);

/* *out = new f32 copy of the vector "<prefix>.<suffix>.<leaf>" of n elements. */
sdc_status sdc_layer_vector_load(const sdc_layer_source *src, const char *prefix,
                                 const char *suffix, const char *leaf, int n, float **out);

/* l = the layer "<prefix>.<suffix>": weight [out, in, k, k] (k = 1: also [out, in]) and,
 * when with_bias, bias [out]; registered in src->table. `in` < 0 accepts any width; the
 * output count is derived from the shape (sdc_layer_out). */
sdc_status sdc_layer_load(const sdc_layer_source *src, const char *prefix, const char *suffix,
                          int in, int k, int with_bias, sdc_layer *l);

/* Fails unless layer "<prefix>.<suffix>" has `want` outputs. */
sdc_status sdc_layer_check_out(const sdc_layer_source *src, const char *prefix,
                               const char *suffix, const sdc_layer *l, int want);

/* n = the affine "<prefix>.<suffix>.weight" and ".bias", both [channels]. */
sdc_status sdc_norm_load(const sdc_layer_source *src, const char *prefix, const char *suffix,
                         int channels, sdc_norm *n);

#endif
