/* --conv-type (sdc_model_params.conv_type): the UNet's and VAE's convolution kernels held in
 * memory as ggml blocks, quantised once at load, instead of the file's F16 values.
 *
 * stable-diffusion.cpp's converter leaves convolutions in F16 (ggml quantises rows along a
 * tensor's innermost dimension, which is 3 or 1 for a kernel), and those are 1,124 of the
 * 1,639 MiB of an SD 1.5 UNet: its q8_0 and q4_0 files save little memory. sdc's kernels
 * are [out, in * kh * kw] rows, so a kernel quantises as rows of C_in * 9 values, which are
 * whole blocks for every UNet and VAE layer but a few (C_in of 3, 4 or 8). The GEMM and
 * Winograd expand the blocks to f32 as they read them (weight-only quantisation: the
 * arithmetic stays fp32 / bf16). After quantising a kernel its source pages are dropped from
 * the resident set: nothing reads them again. The blocks are written into a mapped temporary
 * file that leaves the resident set with its component, as the checkpoint's own pages do. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/error.h"
#include "ops/log.h"
#include "ops/quant.h"
#include "ops/quantize.h"
#include "pipeline/pipeline_impl.h"
#include "weights/layer_load.h"

typedef struct conv_tally {
    int done, kept;           /* kernels quantised / left as stored (rows not whole blocks) */
    double bytes_in, bytes_out; /* their bytes before and after */
} conv_tally;

sdc_status sdc_pipeline_conv_type_check(const char *type)
{
    if (!type || strcmp(type, "none") == 0 || strcmp(type, "auto") == 0)
        return SDC_OK;
    int id = sdc_qtype_from_name(type);
    if (id >= 0 && sdc_quantize_supported((uint32_t)id))
        return SDC_OK;
    return sdc_fail(SDC_ERR_ARG, "conv type '%s' is not none, auto or one of q8_0, q4_0, q4_1, "
                    "q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K", type);
}

/* The type of most of the checkpoint's quantised bytes, or -1 when it has none. */
static int file_quant_type(const sdc_checkpoint *ck)
{
    double bytes[64] = {0};
    for (int c = 0; c < SDC_COMPONENT_COUNT; c++)
        for (size_t i = 0; i < sdc_checkpoint_count(ck, (sdc_component)c); i++) {
            const sdc_tensor *t;
            sdc_checkpoint_name_at(ck, (sdc_component)c, i, &t);
            int id = t->quant ? (int)(t->quant - sdc_qtype_get(0)) : -1;
            if (id >= 0 && id < 64 && sdc_quantize_supported((uint32_t)id))
                bytes[id] += (double)sdc_tensor_numel(t) / t->quant->block * t->quant->block_bytes;
        }
    int best = -1;
    for (int id = 0; id < 64; id++)
        if (bytes[id] > 0 && (best < 0 || bytes[id] > bytes[best]))
            best = id;
    return best;
}

enum { ALIGN = 64 };

static size_t round_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* The source tensor of entry e's weight when it is a kernel to quantise to `q`: a 4-D
 * tensor (a convolution, 1x1 included) in a float type, rows of whole blocks; NULL
 * otherwise (*kept set when only the rows were in the way). */
static const sdc_tensor *kernel_source(const sdc_checkpoint *ck, sdc_component component,
                                       const sdc_layer_entry *e, const sdc_qtype_info *q,
                                       char *name, size_t size, int *kept)
{
    const sdc_weight *w = &e->layer->w;
    *kept = 0;
    if (!sdc_layer_name(name, size, e->name, NULL, "weight"))
        return NULL;
    const sdc_tensor *t = sdc_checkpoint_peek(ck, component, name);
    if (!t || t->ndim != 4 || w->quant || e->layer->adapters)
        return NULL;
    *kept = w->cols % q->block != 0;
    return *kept ? NULL : t;
}

/* Quantises entry e's kernel into dst (NULL: into the heap), drops its source pages and
 * records its new type. */
static sdc_status quantise_kernel(sdc_checkpoint *ck, sdc_component component,
                                  const sdc_layer_entry *e, const sdc_tensor *t,
                                  const char *name, uint32_t id, void *dst, conv_tally *tally)
{
    sdc_weight *w = &e->layer->w;
    double in = (double)w->rows * w->cols * (double)sdc_dtype_size(w->dtype);
    sdc_status s = dst ? sdc_weight_quantize_to(w, id, dst) : sdc_weight_quantize(w, id);
    if (s != SDC_OK) {
        sdc_error_prefix("%s: %s", sdc_checkpoint_path(ck), name);
        return s;
    }
    sdc_checkpoint_release_tensor(ck, t);
    sdc_checkpoint_hold_as(ck, component, name, w->quant);
    tally->done++;
    tally->bytes_in += in;
    tally->bytes_out += (double)sdc_weight_quantized_bytes(w, id);
    return SDC_OK;
}

/* The table's kernels, quantised straight into a mapped temporary file of the checkpoint's
 * (sdc_checkpoint_held_area), which drops them from the resident set when the component's
 * stage is over, as it drops the file's own pages; into the heap when there is none. Two
 * passes: the first sizes the file. */
static sdc_status quantise_table(sdc_checkpoint *ck, sdc_component component,
                                 sdc_layer_table *table, uint32_t id, conv_tally *tally)
{
    const sdc_qtype_info *q = sdc_qtype_get(id);
    size_t count = table ? table->count : 0, total = 0;
    char name[256];
    int kept;
    for (size_t i = 0; i < count; i++) {
        const sdc_layer_entry *e = &table->entries[i];
        if (kernel_source(ck, component, e, q, name, sizeof name, &kept))
            total += round_up(sdc_weight_quantized_bytes(&e->layer->w, id));
        tally->kept += kept;
    }
    unsigned char *area = sdc_checkpoint_held_area(ck, component, total);
    sdc_status s = SDC_OK;
    size_t at = 0;
    for (size_t i = 0; i < count && s == SDC_OK; i++) {
        const sdc_layer_entry *e = &table->entries[i];
        const sdc_tensor *t = kernel_source(ck, component, e, q, name, sizeof name, &kept);
        if (!t)
            continue;
        size_t bytes = sdc_weight_quantized_bytes(&e->layer->w, id);
        s = quantise_kernel(ck, component, e, t, name, id, area ? area + at : NULL, tally);
        at += round_up(bytes);
    }
    sdc_checkpoint_seal_held(ck, component);
    return s;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

sdc_status sdc_pipeline_quantise_convs(sdc_model *m, const char *type)
{
    if (!type || strcmp(type, "none") == 0)
        return SDC_OK;
    int id = strcmp(type, "auto") == 0 ? file_quant_type(m->ck) : sdc_qtype_from_name(type);
    if (id < 0) {
        sdc_log(SDC_LOG_INFO, "conv-type auto: %s has no quantised weights, so the "
                "convolutions stay as stored", sdc_checkpoint_path(m->ck));
        return SDC_OK;
    }
    conv_tally tally = {0};
    double t0 = seconds_now();
    sdc_status s = quantise_table(m->ck, SDC_COMPONENT_UNET, sdc_unet_layers(m->unet),
                                  (uint32_t)id, &tally);
    if (s == SDC_OK)
        s = quantise_table(m->ck, SDC_COMPONENT_VAE, sdc_vae_layers(m->vae), (uint32_t)id,
                           &tally);
    if (s == SDC_OK)
        sdc_log(SDC_LOG_INFO, "conv-type %s: %d convolution kernels quantised at load "
                "(%.0f MiB -> %.0f MiB) in %.2f s; %d left as stored (rows not whole blocks)",
                sdc_qtype_get((uint32_t)id)->name, tally.done, tally.bytes_in / (1 << 20),
                tally.bytes_out / (1 << 20), seconds_now() - t0, tally.kept);
    return s;
}
