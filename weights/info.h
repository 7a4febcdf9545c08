/* `sdc info MODEL`: a plain-text summary of a checkpoint (layout, family, prediction, per
 * component parameters and dtypes, unused tensors, AUTOMATIC1111 short hash). */
#ifndef SDC_WEIGHTS_INFO_H
#define SDC_WEIGHTS_INFO_H

#include <stdio.h>

#include "sdc.h"
#include "weights/checkpoint.h"

/* sdc_model_info_print (sdc.h) opens `path`, prints this summary and closes it. */
/* The same summary for an opened checkpoint; with_hash 0 skips the (slow) hash line. */
sdc_status sdc_checkpoint_info_print(const sdc_checkpoint *ck, FILE *out, int with_hash);

/* "weights: f16 1640 MiB, q8_0 412 MiB": every component's tensors by storage type (a
 * quantised GGUF tensor in its blocks' bytes, a tensor quantised at load, see
 * sdc_checkpoint_hold_as, in those of its type), largest first. */
void sdc_checkpoint_memory_text(const sdc_checkpoint *ck, char *buf, size_t size);

#endif
