/* GGUF files (weights/gguf.h) opened as a table of tensors, so checkpoint layouts read them
 * like .safetensors files. */
#ifndef SDC_WEIGHTS_GGUF_TABLE_H
#define SDC_WEIGHTS_GGUF_TABLE_H

#include "sdc.h"
#include "weights/safetensors.h"

/* Opens `path` as a table: LDM names as stored, PyTorch shapes (ggml's ne[] reversed); F32,
 * F16 and BF16 tensors are views of the mapped file, quantised ones read as F32, expanded on
 * first use (sdc_safetensors_load). Errors name the file (see sdc_gguf_open). */
sdc_status sdc_gguf_open_table(const char *path, sdc_safetensors **out);

#endif
