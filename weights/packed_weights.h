/* Packed bf16 weights for a model that runs many times (the UNet over a sampling loop): each
 * layer weight gets a cache that the bf16 GEMM fills on first use (ops/pack_cache.h), and the
 * weight's mapped f16 pages then leave the resident set, so the packed copy replaces them
 * instead of adding to them (docs/PERFORMANCE.md, "Packed bf16 weights"). */
#ifndef SDC_WEIGHTS_PACKED_WEIGHTS_H
#define SDC_WEIGHTS_PACKED_WEIGHTS_H

#include <stddef.h>

#include "weights/checkpoint.h"
#include "weights/layer_table.h"

/* Gives every layer weight of t a cache (on), or frees the caches and their packed copies
 * (off). A weight packed from ck's mapping releases those pages (sdc_checkpoint_release_range)
 * as soon as it is packed, so the resident set does not grow by the packed copies. Returns
 * SDC_OK, or SDC_ERR_NOMEM (the caches made so far stay, and work). */
sdc_status sdc_packed_weights_set(sdc_layer_table *t, const sdc_checkpoint *ck, int on);
/* Bytes of mapped pages released by packing since the process started. */
size_t sdc_packed_weights_released(void);

#endif
