/* sdc convert: plan the output tensors (names, dtypes, shapes), write the safetensors header
 * and data into a temporary file, then move it into place. */
#include "weights/ckpt_convert.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops/error.h"
#include "ops/quant.h"
#include "ops/quantize.h"
#include "weights/checkpoint_impl.h"
#include "weights/gguf_write.h"

enum { CHUNK = 1 << 16 };

typedef sdc_convert_item item; /* short names inside this file */
typedef sdc_convert_plan plan;

sdc_convert_params sdc_convert_default_params(void)
{
    return (sdc_convert_params){.dtype = -1};
}

void sdc_convert_plan_free(plan *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->items[i].name);
    free(p->items);
}

static int is_float(sdc_dtype d) { return sdc_dtype_is_weight(d) || d == SDC_DTYPE_F64; }

static sdc_status plan_add(plan *p, const char *prefix, const char *name, const sdc_tensor *t,
                           int dtype)
{
    if (p->count == p->capacity) {
        size_t cap = p->capacity ? 2 * p->capacity : 256;
        item *grown = realloc(p->items, cap * sizeof *grown);
        if (!grown)
            return sdc_fail(SDC_ERR_NOMEM, "out of memory");
        p->items = grown;
        p->capacity = cap;
    }
    item *it = &p->items[p->count];
    size_t n = strlen(prefix) + strlen(name) + 1;
    if (!(it->name = malloc(n)))
        return sdc_fail(SDC_ERR_NOMEM, "out of memory");
    snprintf(it->name, n, "%s%s", prefix, name);
    it->src = t;
    it->out = *t;
    if (dtype >= 0 && is_float(t->dtype))
        it->out.dtype = (sdc_dtype)dtype;
    it->order = p->count++;
    return SDC_OK;
}

/* LDM stores the VAE attention projections as 1x1 convs; diffusers as linear layers. */
static void vae_conv_shape(item *it)
{
    if (strstr(it->name, ".attn_1.") && it->out.ndim == 2 &&
        strcmp(it->name + strlen(it->name) - 7, ".weight") == 0) {
        it->out.shape[2] = it->out.shape[3] = 1;
        it->out.ndim = 4;
    }
}

sdc_status sdc_convert_plan_diffusers(const sdc_checkpoint *ck, int dtype, plan *p)
{
    if (sdc_checkpoint_count(ck, SDC_COMPONENT_TEXT2))
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: converting an SDXL diffusers folder to a "
                        "single file is not supported yet (its second text encoder would "
                        "need OpenCLIP names); the folder itself loads", sdc_checkpoint_path(ck));
    static const char *const prefixes[SDC_COMPONENT_COUNT] = {
        [SDC_COMPONENT_UNET] = "model.diffusion_model.",
        [SDC_COMPONENT_VAE] = "first_stage_model.",
        [SDC_COMPONENT_TEXT] = "cond_stage_model.transformer.",
    };
    for (int c = 0; c < SDC_COMPONENT_COUNT; c++)
        for (size_t i = 0; i < sdc_checkpoint_count(ck, (sdc_component)c); i++) {
            const sdc_tensor *t;
            const char *name = sdc_checkpoint_name_at(ck, (sdc_component)c, i, &t);
            sdc_status s = plan_add(p, prefixes[c], name, t, dtype);
            if (s != SDC_OK)
                return s;
            if (c == SDC_COMPONENT_VAE)
                vae_conv_shape(&p->items[p->count - 1]);
        }
    return SDC_OK;
}

static sdc_status plan_single(const sdc_checkpoint *ck, int dtype, plan *p)
{
    const sdc_safetensors *st = ck->files[0];
    for (size_t i = 0; i < sdc_safetensors_count(st); i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(st, i);
        sdc_status s = plan_add(p, "", e->name, &e->tensor, dtype);
        if (s != SDC_OK)
            return s;
    }
    return SDC_OK;
}

/* Largest elements first, then source order: every offset stays aligned. */
static int by_element_size(const void *a, const void *b)
{
    const item *x = a, *y = b;
    size_t sx = sdc_dtype_size(x->out.dtype), sy = sdc_dtype_size(y->out.dtype);
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

static size_t out_bytes(const item *it)
{
    return (size_t)sdc_tensor_numel(&it->out) * sdc_dtype_size(it->out.dtype);
}

static json_t *metadata(const sdc_checkpoint *ck)
{
    json_t *meta = json_object();
    json_object_set_new(meta, "format", json_string("pt"));
    const char *source = ck->facts.prediction_source;
    if (ck->facts.prediction >= 0 && source)
        json_object_set_new(meta, "modelspec.prediction_type",
                            json_string(ck->facts.prediction == SDC_PREDICTION_V ? "v"
                                                                                 : "epsilon"));
    return meta;
}

/* The header JSON, padded with spaces to a multiple of 8 bytes. */
static sdc_status header_text(const sdc_checkpoint *ck, const plan *p, const char *out,
                              char **text, size_t *len)
{
    json_t *root = json_object();
    sdc_status s = root ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", out);
    uint64_t offset = 0;
    for (size_t i = 0; s == SDC_OK && i < p->count; i++) {
        const item *it = &p->items[i];
        json_t *shape = json_array();
        for (int d = 0; d < it->out.ndim; d++)
            json_array_append_new(shape, json_integer(it->out.shape[d]));
        uint64_t end = offset + out_bytes(it);
        json_t *entry = json_pack("{s:s, s:o, s:[I,I]}", "dtype", sdc_dtype_name(it->out.dtype),
                                  "shape", shape, "data_offsets", (json_int_t)offset,
                                  (json_int_t)end);
        if (!entry || json_object_set_new(root, it->name, entry) != 0)
            s = sdc_fail(SDC_ERR_FORMAT, "%s: cannot describe tensor '%s'", out, it->name);
        offset = end;
    }
    if (s == SDC_OK && json_object_size(root) != p->count)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: two tensors would have the same name", out);
    if (s == SDC_OK)
        json_object_set_new(root, "__metadata__", metadata(ck));
    char *json = s == SDC_OK ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (s == SDC_OK && !json)
        s = sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", out);
    if (s != SDC_OK)
        return s;
    size_t n = strlen(json), padded = (n + 7) & ~(size_t)7;
    *text = realloc(json, padded + 1);
    if (!*text) {
        free(json);
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", out);
    }
    memset(*text + n, ' ', padded - n);
    (*text)[padded] = '\0';
    *len = padded;
    return SDC_OK;
}

static sdc_status write_bytes(FILE *f, const void *data, size_t n, const char *out)
{
    if (n && fwrite(data, 1, n, f) != n)
        return sdc_fail(SDC_ERR_IO, "%s: cannot write: %s", out, strerror(errno));
    return SDC_OK;
}

/* One tensor's data in the output dtype, converted in chunks. */
static sdc_status write_tensor(FILE *f, const item *it, float *buf, uint16_t *half,
                               const char *out)
{
    size_t n = (size_t)sdc_tensor_numel(it->src), esize = sdc_dtype_size(it->src->dtype);
    if (it->out.dtype == it->src->dtype)
        return write_bytes(f, it->src->data, n * esize, out);
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        sdc_convert_to_f32(buf, (const uint8_t *)it->src->data + i * esize, it->src->dtype, m);
        sdc_status s;
        if (it->out.dtype == SDC_DTYPE_F32) {
            s = write_bytes(f, buf, m * sizeof *buf, out);
        } else {
            for (size_t k = 0; k < m; k++)
                half[k] = it->out.dtype == SDC_DTYPE_F16 ? sdc_f32_to_f16(buf[k])
                                                         : sdc_f32_to_bf16(buf[k]);
            s = write_bytes(f, half, m * sizeof *half, out);
        }
        if (s != SDC_OK)
            return s;
    }
    return SDC_OK;
}

static sdc_status write_all(FILE *f, const sdc_checkpoint *ck, const plan *p, const char *out,
                            const sdc_convert_params *params)
{
    char *header;
    size_t len = 0;
    sdc_status s = header_text(ck, p, out, &header, &len);
    if (s != SDC_OK)
        return s;
    uint8_t size_le[8];
    for (int i = 0; i < 8; i++)
        size_le[i] = (uint8_t)((uint64_t)len >> (8 * i));
    s = write_bytes(f, size_le, 8, out);
    if (s == SDC_OK)
        s = write_bytes(f, header, len, out);
    free(header);
    float *buf = malloc(CHUNK * sizeof *buf);
    uint16_t *half = malloc(CHUNK * sizeof *half);
    if (s == SDC_OK && (!buf || !half))
        s = sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", out);
    for (size_t i = 0; s == SDC_OK && i < p->count; i++) {
        s = sdc_checkpoint_load(ck, p->items[i].src); /* a .ckpt's compressed storage */
        if (s == SDC_OK)
            s = write_tensor(f, &p->items[i], buf, half, out);
        if (s == SDC_OK && params->progress &&
            params->progress("converting", (int)(i + 1), (int)p->count, params->user_data))
            s = sdc_fail(SDC_ERR_INTERRUPTED, "%s: interrupted; nothing was written", out);
    }
    free(buf);
    free(half);
    return s;
}

/* Moves the finished temporary into place; without overwrite, link() refuses an existing
 * file atomically. */
static sdc_status publish(const char *tmp, const char *out, int overwrite)
{
    if (overwrite) {
        if (rename(tmp, out) != 0)
            return sdc_fail(SDC_ERR_IO, "%s: cannot rename into place: %s", out, strerror(errno));
        return SDC_OK;
    }
    int err = link(tmp, out) == 0 ? 0 : errno;
    unlink(tmp);
    if (err == EEXIST)
        return sdc_fail(SDC_ERR_IO, "%s: file exists (use --overwrite to replace it)", out);
    if (err)
        return sdc_fail(SDC_ERR_IO, "%s: cannot create: %s", out, strerror(err));
    return SDC_OK;
}

sdc_status sdc_write_atomically(const char *out, int overwrite,
                                sdc_status (*write)(FILE *f, void *ctx), void *ctx)
{
    size_t n = strlen(out) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", out);
    snprintf(tmp, n, "%s.tmp-XXXXXX", out);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        sdc_status s = sdc_fail(SDC_ERR_IO, "%s: cannot create: %s", out, strerror(errno));
        free(tmp);
        return s;
    }
    fchmod(fd, 0644);
    FILE *f = fdopen(fd, "wb");
    sdc_status s = f ? write(f, ctx)
                     : sdc_fail(SDC_ERR_IO, "%s: cannot write: %s", out, strerror(errno));
    if (f && s == SDC_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        s = sdc_fail(SDC_ERR_IO, "%s: cannot write: %s", out, strerror(errno));
    if ((f ? fclose(f) : close(fd)) != 0 && s == SDC_OK)
        s = sdc_fail(SDC_ERR_IO, "%s: cannot write: %s", out, strerror(errno));
    if (s == SDC_OK)
        s = publish(tmp, out, overwrite);
    else
        unlink(tmp);
    free(tmp);
    return s;
}

/* write_all through sdc_write_atomically */
typedef struct write_job {
    const sdc_checkpoint *ck;
    const plan *p;
    const char *out;
    const sdc_convert_params *params;
} write_job;

static sdc_status write_job_run(FILE *f, void *ctx)
{
    const write_job *j = ctx;
    return write_all(f, j->ck, j->p, j->out, j->params);
}

static sdc_status write_file(const sdc_checkpoint *ck, const plan *p, const char *out,
                             const sdc_convert_params *params)
{
    write_job j = {ck, p, out, params};
    return sdc_write_atomically(out, params->overwrite, write_job_run, &j);
}

sdc_status sdc_checkpoint_convert(const char *in, const char *out,
                                  const sdc_convert_params *params, size_t *tensors)
{
    if (params->dtype >= 0 && !sdc_dtype_is_weight((sdc_dtype)params->dtype))
        return sdc_fail(SDC_ERR_ARG, "convert: the output type must be f32, f16 or bf16");
    if (!params->overwrite && access(out, F_OK) == 0)
        return sdc_fail(SDC_ERR_IO, "%s: file exists (use --overwrite to replace it)", out);
    sdc_checkpoint *ck;
    sdc_status s = sdc_checkpoint_open(in, &ck);
    if (s != SDC_OK)
        return s;
    plan p = {0};
    s = ck->layout == SDC_LAYOUT_DIFFUSERS ? sdc_convert_plan_diffusers(ck, params->dtype, &p)
                                           : plan_single(ck, params->dtype, &p);
    if (s == SDC_OK) {
        qsort(p.items, p.count, sizeof *p.items, by_element_size);
        s = write_file(ck, &p, out, params);
    }
    if (s == SDC_OK && tensors)
        *tensors = p.count;
    sdc_convert_plan_free(&p);
    sdc_checkpoint_close(ck);
    return s;
}

/* The float types a checkpoint can be stored in, by the names of `sdc convert --type`. */
static int convert_dtype(const char *name)
{
    static const struct {
        const char *name;
        sdc_dtype dtype;
    } types[] = {{"f32", SDC_DTYPE_F32}, {"f16", SDC_DTYPE_F16}, {"bf16", SDC_DTYPE_BF16}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(name, types[i].name) == 0)
            return (int)types[i].dtype;
    return -2;
}

sdc_status sdc_convert(const char *in, const char *out, const char *dtype, int overwrite,
                       sdc_progress_fn progress, void *user_data, size_t *tensors)
{
    sdc_convert_params params = sdc_convert_default_params();
    params.dtype = dtype ? convert_dtype(dtype) : -1;
    int q = dtype && params.dtype == -2 ? sdc_qtype_from_name(dtype) : -1;
    if (q >= 0 && sdc_quantize_supported((uint32_t)q)) /* quantised: a GGUF file */
        return sdc_gguf_convert(in, out, (uint32_t)q, overwrite, progress, user_data, tensors);
    if (params.dtype == -2)
        return sdc_fail(SDC_ERR_ARG, "dtype '%s': choose f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, "
                        "q5_1, q2_K, q3_K, q4_K, q5_K or q6_K", dtype);
    params.overwrite = overwrite;
    params.progress = progress;
    params.user_data = user_data;
    return sdc_checkpoint_convert(in, out, &params, tensors);
}
