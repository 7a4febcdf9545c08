/* Checkpoint name -> layer: every model registers each linear / convolution layer it loads
 * under its internal checkpoint name without ".weight" (UNet "input_blocks.1.1.proj_in", VAE
 * "decoder.up.3.block.2.conv1", text encoder "text_model.encoder.layers.0.mlp.fc1"), so
 * anything that names layers the way checkpoints do (adapter files, merges) finds them. */
#ifndef SDC_WEIGHTS_LAYER_TABLE_H
#define SDC_WEIGHTS_LAYER_TABLE_H

#include <stddef.h>

#include "ops/layer.h"
#include "sdc.h"

typedef struct sdc_layer_entry {
    char *name;       /* owned */
    sdc_layer *layer; /* owned by the model */
} sdc_layer_entry;

typedef struct sdc_layer_table {
    sdc_layer_entry *entries;
    size_t count, capacity;
    int sorted; /* entries sorted by name (lookups sort them first) */
} sdc_layer_table;

/* Registers `layer` as `name` (copied); each checkpoint tensor is loaded once, so names are
 * unique. */
sdc_status sdc_layer_table_add(sdc_layer_table *t, const char *name, sdc_layer *layer);
/* The layer registered as `name`, or NULL. */
sdc_layer *sdc_layer_table_find(sdc_layer_table *t, const char *name);
/* Frees the names (the layers belong to their model). */
void sdc_layer_table_free(sdc_layer_table *t);

#endif
