/* `sdc convert --type q8_0|q4_0|...|q6_K IN OUT`: a single-file checkpoint (or a diffusers folder
 * in LDM names) written as the GGUF file stable-diffusion.cpp's `sd-cli -M convert --type T`
 * writes from it:
 *
 *   - the tensors sorted by name, LDM names as stored; its unused ones dropped (schedule
 *     buffers but alphas_cumprod, position_ids, logit_scale, model_ema.*, ...)
 *   - a float tensor is quantised unless its name ends in .bias, .scale or .weight_scale or
 *     contains time_embed., label_emb. or embedding, or its rows (ggml's ne[0], the last
 *     PyTorch dimension) are not whole blocks; the others keep their type (F32, F16, BF16)
 *   - version 3, no key-value pairs, data 32-aligned and contiguous
 *
 * The blocks come from ops/quantize.h (identical to ggml's). Written to a temporary file and
 * renamed into place. */
#ifndef SDC_WEIGHTS_GGUF_WRITE_H
#define SDC_WEIGHTS_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "sdc.h"

/* Converts `in` (a .safetensors, .ckpt or .gguf single file, or a diffusers folder) to `out`
 * with ggml type `type` (sdc_quantize_supported). A folder's tensors are those, under the
 * names and in the shapes, that its conversion to a single file gives (ckpt_convert.h), so
 * folder -> GGUF equals folder -> .safetensors -> GGUF. *tensors (may be NULL) receives the
 * number written. */
sdc_status sdc_gguf_convert(const char *in, const char *out, uint32_t type, int overwrite,
                            sdc_progress_fn progress, void *user_data, size_t *tensors);

#endif
