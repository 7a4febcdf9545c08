/* Loading helpers of the UNet blocks: names built from the LDM internal name prefixes
 * ("input_blocks.4.1.transformer_blocks.0.attn2") and the UNet's layer source (checkpoint
 * component, name table); the layers themselves are the one layer type (ops/layer.h) loaded
 * by the one loader (weights/layer_load.h). Every error names the checkpoint file and the
 * tensor. */
#ifndef SDC_UNET_LOAD_H
#define SDC_UNET_LOAD_H

#include "ops/layer.h"
#include "weights/layer_load.h"

/* Largest channel / feature count accepted from a checkpoint (real SD: 1280 and 5120). */
#define SDC_UNET_MAX_DIM 65536

/* GroupNorm groups everywhere in SD UNets. */
#define SDC_UNET_GROUPS 32

/* Size of the name prefixes the blocks build ("output_blocks.11.1.transformer_blocks.0.attn2"
 * and the like: all made by sdc from its own formats, never from file content). */
#define SDC_UNET_PREFIX_MAX 128

/* The UNet component of ck, registering layers in `table` (may be NULL). */
sdc_layer_source sdc_unet_source(const sdc_checkpoint *ck, sdc_layer_table *table);

/* buf [SDC_UNET_PREFIX_MAX] = printf(fmt, ...), truncated if ever too long (a truncated name
 * then fails its lookup with an error naming it). */
void sdc_unet_prefix(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The UNet tensor "<prefix>.<suffix>", or NULL when absent (suffix may be NULL). */
const sdc_tensor *sdc_unet_tensor(const sdc_layer_source *src, const char *prefix,
                                  const char *suffix);

/* Fails unless `channels` splits into SDC_UNET_GROUPS groups ("what" names the block). */
sdc_status sdc_unet_check_groups(const sdc_layer_source *src, const char *what, int channels);

#endif
