/* Quantised GGUF output of `sdc convert` (see gguf_write.h). */
#include "weights/gguf_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/error.h"
#include "ops/quant.h"
#include "ops/quantize.h"
#include "weights/ckpt.h"
#include "weights/ckpt_convert.h"
#include "weights/gguf.h"
#include "weights/gguf_table.h"
#include "weights/safetensors.h"

enum { ALIGN = 32 };

/* Names stable-diffusion.cpp never loads (prefixes; the SD ones of its unused_tensors). */
static const char *const dropped[] = {
    "betas", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
    "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1",
    "posterior_mean_coef2", "cond_stage_model.transformer.text_model.embeddings.position_ids",
    "cond_stage_model.1.model.text_model.embeddings.position_ids",
    "cond_stage_model.transformer.vision_model.embeddings.position_ids",
    "cond_stage_model.model.logit_scale",
    "conditioner.embedders.0.transformer.text_model.embeddings.position_ids",
    "conditioner.embedders.0.model.logit_scale", "conditioner.embedders.1.model.logit_scale",
    "model.diffusion_model.time_embedding.cond_proj.weight", "model_ema.decay",
    "model_ema.num_updates", "model_ema.diffusion_model", "embedding_manager", "denoiser.sigmas",
    "ztsnr", "edm_vpred.sigma_min",
};

typedef struct out_tensor {
    const char *name;      /* LDM name, borrowed from the source table or the folder's plan */
    const sdc_tensor *src; /* the source's data and dtype */
    sdc_tensor shape;      /* the shape written (a diffusers VAE projection as a 1x1 conv) */
    size_t src_bytes;      /* the source's bytes, made readable before they are written */
    uint32_t type;         /* ggml type written */
    uint64_t offset, nbytes;
} out_tensor;

/* The source is a single file (st) or a diffusers folder (ck, its tensors named by folder). */
typedef struct job {
    const char *in, *out;
    sdc_safetensors *st;
    sdc_checkpoint *ck;
    sdc_convert_plan folder;
    out_tensor *t;
    size_t count;
    sdc_progress_fn progress;
    void *user_data;
} job;

static int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static int ends_with(const char *s, const char *p)
{
    size_t n = strlen(s), m = strlen(p);
    return n >= m && strcmp(s + n - m, p) == 0;
}

static int is_dropped(const char *name)
{
    for (size_t i = 0; i < sizeof dropped / sizeof *dropped; i++)
        if (starts_with(name, dropped[i]))
            return 1;
    return 0;
}

/* stable-diffusion.cpp's tensor_should_be_converted for the SD families. */
static int quantised(const out_tensor *t, const sdc_qtype_info *q)
{
    const char *n = t->name;
    int64_t row = t->shape.ndim ? t->shape.shape[t->shape.ndim - 1] : 1;
    return row % q->block == 0 && !ends_with(n, ".bias") && !ends_with(n, ".scale") &&
           !ends_with(n, ".weight_scale") && !strstr(n, "time_embed.") &&
           !strstr(n, "label_emb.") && !strstr(n, "embedding");
}

static int source_type(sdc_dtype d)
{
    return d == SDC_DTYPE_F32 ? SDC_QTYPE_F32
           : d == SDC_DTYPE_F16 ? SDC_QTYPE_F16
           : d == SDC_DTYPE_BF16 ? SDC_QTYPE_BF16
                                 : -1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const out_tensor *)a)->name, ((const out_tensor *)b)->name);
}

/* Adds one source tensor (j->t has room) unless it is dropped, choosing its type. */
static sdc_status add(job *j, const char *name, const sdc_tensor *src, const sdc_tensor *shape,
                      size_t src_bytes, uint32_t type)
{
    if (is_dropped(name))
        return SDC_OK;
    int kept = source_type(src->dtype);
    if (kept < 0 || shape->ndim > SDC_GGUF_MAX_DIMS)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: tensor '%s' (%s, %d dimensions) has no GGUF "
                        "form sdc writes", j->in, name, sdc_dtype_name(src->dtype), shape->ndim);
    out_tensor *t = &j->t[j->count++];
    *t = (out_tensor){.name = name, .src = src, .shape = *shape, .src_bytes = src_bytes};
    t->type = quantised(t, sdc_qtype_get(type)) ? type : (uint32_t)kept;
    return SDC_OK;
}

/* The tensors written, their types and offsets: a single file's as stored, a folder's as
 * its conversion to a single file names and shapes them. */
static sdc_status plan(job *j, uint32_t type)
{
    size_t n = j->ck ? j->folder.count : sdc_safetensors_count(j->st);
    j->t = calloc(n ? n : 1, sizeof *j->t);
    if (!j->t)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", j->out);
    sdc_status s = SDC_OK;
    for (size_t i = 0; s == SDC_OK && i < n; i++) {
        if (j->ck) {
            const sdc_convert_item *it = &j->folder.items[i];
            size_t bytes = (size_t)sdc_tensor_numel(it->src) * sdc_dtype_size(it->src->dtype);
            s = add(j, it->name, it->src, &it->out, bytes, type);
        } else {
            const sdc_st_entry *e = sdc_safetensors_entry(j->st, i);
            s = add(j, e->name, &e->tensor, &e->tensor, e->nbytes, type);
        }
    }
    if (s != SDC_OK)
        return s;
    qsort(j->t, j->count, sizeof *j->t, by_name);
    uint64_t offset = 0;
    for (size_t i = 0; i < j->count; i++) {
        const sdc_qtype_info *tq = sdc_qtype_get(j->t[i].type);
        j->t[i].offset = offset;
        j->t[i].nbytes = (uint64_t)sdc_tensor_numel(&j->t[i].shape) / (uint64_t)tq->block *
                         (uint64_t)tq->block_bytes;
        offset += (j->t[i].nbytes + ALIGN - 1) / ALIGN * ALIGN;
    }
    return SDC_OK;
}

static sdc_status put(FILE *f, const void *p, size_t n, const char *out)
{
    if (n && fwrite(p, 1, n, f) != n)
        return sdc_fail(SDC_ERR_IO, "%s: cannot write: %s", out, strerror(errno));
    return SDC_OK;
}

static sdc_status put_le(FILE *f, uint64_t v, int bytes, const char *out)
{
    uint8_t le[8];
    for (int i = 0; i < bytes; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    return put(f, le, (size_t)bytes, out);
}

static sdc_status pad(FILE *f, uint64_t *pos, const char *out)
{
    static const uint8_t zero[ALIGN];
    size_t n = (size_t)((ALIGN - *pos % ALIGN) % ALIGN);
    *pos += n;
    return put(f, zero, n, out);
}

/* Header and tensor infos (ggml's ne[]: the PyTorch shape reversed; a scalar as [1]). */
static sdc_status write_header(FILE *f, const job *j, uint64_t *pos)
{
    sdc_status s = put(f, "GGUF", 4, j->out);
    if (s == SDC_OK) s = put_le(f, 3, 4, j->out);
    if (s == SDC_OK) s = put_le(f, j->count, 8, j->out);
    if (s == SDC_OK) s = put_le(f, 0, 8, j->out);
    *pos = 24;
    for (size_t i = 0; s == SDC_OK && i < j->count; i++) {
        const sdc_tensor *t = &j->t[i].shape;
        int ndim = t->ndim ? t->ndim : 1;
        size_t len = strlen(j->t[i].name);
        s = put_le(f, len, 8, j->out);
        if (s == SDC_OK) s = put(f, j->t[i].name, len, j->out);
        if (s == SDC_OK) s = put_le(f, (uint64_t)ndim, 4, j->out);
        for (int d = 0; s == SDC_OK && d < ndim; d++)
            s = put_le(f, t->ndim ? (uint64_t)t->shape[t->ndim - 1 - d] : 1, 8, j->out);
        if (s == SDC_OK) s = put_le(f, j->t[i].type, 4, j->out);
        if (s == SDC_OK) s = put_le(f, j->t[i].offset, 8, j->out);
        *pos += 8 + len + 4 + 8 * (uint64_t)ndim + 4 + 8;
    }
    return s == SDC_OK ? pad(f, pos, j->out) : s;
}

/* One tensor: as stored when its type is kept, else row by row through f32. */
static sdc_status write_data(FILE *f, const job *j, const out_tensor *t, float *row,
                             uint8_t *blocks)
{
    const sdc_tensor *src = t->src;
    if (t->type == (uint32_t)source_type(src->dtype))
        return put(f, src->data, (size_t)t->nbytes, j->out);
    size_t n = (size_t)t->shape.shape[t->shape.ndim - 1], rows = (size_t)sdc_tensor_numel(src) / n;
    size_t esize = sdc_dtype_size(src->dtype), row_bytes = (size_t)t->nbytes / rows;
    sdc_status s = SDC_OK;
    for (size_t r = 0; s == SDC_OK && r < rows; r++) {
        sdc_convert_to_f32(row, (const uint8_t *)src->data + r * n * esize, src->dtype, n);
        sdc_quantize_row(t->type, row, n, blocks);
        s = put(f, blocks, row_bytes, j->out);
    }
    return s;
}

/* The longest row among the quantised tensors (the scratch rows' size). */
static size_t longest_row(const job *j)
{
    size_t n = 1;
    for (size_t i = 0; i < j->count; i++) {
        const sdc_tensor *t = &j->t[i].shape;
        if (t->ndim && (size_t)t->shape[t->ndim - 1] > n)
            n = (size_t)t->shape[t->ndim - 1];
    }
    return n;
}

static sdc_status write_gguf(FILE *f, void *ctx)
{
    const job *j = ctx;
    uint64_t pos;
    sdc_status s = write_header(f, j, &pos);
    size_t n = longest_row(j);
    float *row = malloc(n * sizeof *row);
    uint8_t *blocks = malloc(n * sizeof(float));
    if (s == SDC_OK && (!row || !blocks))
        s = sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", j->out);
    for (size_t i = 0; s == SDC_OK && i < j->count; i++) {
        s = j->ck ? sdc_checkpoint_load(j->ck, j->t[i].src)
                  : sdc_safetensors_load(j->st, j->t[i].src->data, j->t[i].src_bytes);
        if (s == SDC_OK)
            s = write_data(f, j, &j->t[i], row, blocks);
        pos += j->t[i].nbytes;
        if (s == SDC_OK)
            s = pad(f, &pos, j->out);
        if (s == SDC_OK && j->progress &&
            j->progress("converting", (int)(i + 1), (int)j->count, j->user_data))
            s = sdc_fail(SDC_ERR_INTERRUPTED, "%s: interrupted; nothing was written", j->out);
    }
    free(row);
    free(blocks);
    return s;
}

static sdc_status open_single(const char *in, sdc_safetensors **st)
{
    sdc_status s = sdc_check_regular_file(in);
    if (s != SDC_OK)
        return s;
    return sdc_ckpt_sniff(in)   ? sdc_ckpt_open(in, st)
           : sdc_gguf_sniff(in) ? sdc_gguf_open_table(in, st)
                                : sdc_safetensors_open(in, st);
}

/* A diffusers folder: its tensors as `sdc convert FOLDER OUT.safetensors` writes them. */
static sdc_status open_folder(job *j)
{
    sdc_status s = sdc_checkpoint_open(j->in, &j->ck);
    return s == SDC_OK ? sdc_convert_plan_diffusers(j->ck, -1, &j->folder) : s;
}

sdc_status sdc_gguf_convert(const char *in, const char *out, uint32_t type, int overwrite,
                            sdc_progress_fn progress, void *user_data, size_t *tensors)
{
    job j = {.in = in, .out = out, .progress = progress, .user_data = user_data};
    struct stat sb;
    sdc_status s = stat(in, &sb) == 0 && S_ISDIR(sb.st_mode) ? open_folder(&j)
                                                             : open_single(in, &j.st);
    if (s == SDC_OK)
        s = plan(&j, type);
    if (s == SDC_OK)
        s = sdc_write_atomically(out, overwrite, write_gguf, &j);
    if (s == SDC_OK && tensors)
        *tensors = j.count;
    free(j.t);
    sdc_convert_plan_free(&j.folder);
    sdc_checkpoint_close(j.ck);
    sdc_safetensors_close(j.st);
    return s;
}
