/* The UNet's packed bf16 weights over one sampling loop (weights/packed_weights.h): at bf16
 * precision and with enough model calls to pay for packing once, the first call packs each
 * weight that the bf16 GEMM reads (its f16 pages leave the resident set as it is packed) and
 * later calls read the packed copies, which are freed when the loop ends (before the
 * decoder's activations take their place). */
#ifndef SDC_PIPELINE_UNET_PACK_H
#define SDC_PIPELINE_UNET_PACK_H

#include <stddef.h>

#include "pipeline/control.h"
#include "pipeline/pipeline_impl.h"
#include "pipeline/prefetch.h"

/* Model calls from which packing pays, by the UNet's rows per call. The first call's packing
 * into 1.6-1.8 GiB of fresh memory costs 1.8-2.1 s (CFG, 2 rows) to 2.3 s (1 row) more at
 * 512x512. Each later call then saves 0.2-0.3 s with 2 rows, but only about 0.08 s with 1
 * row, whose per-call copies prefetch and share their im2col blocks: break-even after 6-11
 * and about 29 calls (docs/PERFORMANCE.md, "Packed bf16 weights" and "bf16 softmax by a
 * shorter polynomial"). */
#define SDC_UNET_PACK_MIN_CALLS 10
#define SDC_UNET_PACK_MIN_CALLS_ONE_ROW 30

typedef struct sdc_unet_pack {
    const sdc_model *m; /* the model whose UNet is packed, or NULL */
    sdc_pipeline_control *control; /* its ControlNets, packed too, or NULL */
    size_t released;    /* sdc_packed_weights_released() when packing began */
    size_t peak;        /* the most bytes of packed copies after a call */
} sdc_unet_pack;

/* Starts packing m's UNet and the nets of `control` (or NULL) when the bf16 kernels run
 * (sdc_pack_cache_used) and enough model calls of `rows` rows each are ahead; pf (the
 * UNet's prefetch, or NULL) is joined first, as it would map released pages again. */
sdc_status sdc_unet_pack_begin(sdc_unet_pack *p, const sdc_model *m, int calls, int rows,
                               sdc_prefetch *pf, sdc_pipeline_control *control);
/* After a model call: notes the packed copies' size. */
void sdc_unet_pack_after_call(sdc_unet_pack *p);
/* Frees the packed copies (reporting their size at -v); a no-op when nothing was packed. */
void sdc_unet_pack_end(sdc_unet_pack *p);

#endif
