/* make-random-checkpoint: a full-size safetensors checkpoint with random weights, from the
 * name manifests in golden/manifests (name<TAB>dtype<TAB>shape), for benchmarks of real
 * model sizes without downloading a model.
 *
 *   make-random-checkpoint [--type f16|f32] [--seed N] [--extra EXTRA.tsv] MANIFEST.tsv OUT
 *   make-random-checkpoint --controlnet [--type f16|f32] [--seed N] LDM_MANIFEST.tsv OUT
 *
 * A manifest may also be a .safetensors file: its tensors' names, dtypes and shapes (say a
 * small model of the golden data, to make a net for it).
 *
 * --controlnet writes a ControlNet for the model of an LDM manifest (sd15-ldm.tsv, or
 * sdxl-base-ldm.tsv for an SDXL one) in the original single-file layout without prefix: the
 * UNet's encoder half (time_embed.*, label_emb.* when the model has it, input_blocks.*,
 * middle_block.*, renamed from model.diffusion_model.*), the hint encoder
 * input_hint_block.{0,2,...,14} (3 -> 16, 16, 32, 32, 96, 96, 256 -> C0, 3x3) and the 1x1
 * zero_convs.N.0 / middle_block_out.0 on every skip width: the shapes of lllyasviel's
 * control_v11p_sd15_*.pth (361 million values for SD 1.5).
 *
 * Values keep activations sane: N(0, 0.02) for weight matrices and convolutions, 1 for
 * 1-D weights (every 1-D weight in SD is a norm scale), 0 for biases; the LDM schedule
 * buffers hold the real SD schedule. Deterministic for a seed (each tensor draws from its
 * own stream, seeded by the seed and its name). The file is written tensor by tensor in
 * chunks to a temporary name, then renamed. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ops/dtype.h"
#include "ops/error.h"
#include "ops/tensor.h"
#include "weights/safetensors.h"

#define CHUNK (1u << 20) /* elements generated per write */
#define SCHEDULE_STEPS 1000

typedef struct spec {
    char *name;
    sdc_dtype dtype; /* as written */
    int ndim;
    int64_t shape[SDC_MAX_DIMS];
    uint64_t numel;
} spec;

typedef struct spec_list {
    spec *items;
    size_t count, capacity;
} spec_list;

static int schedule_index(const char *name);

/* ---- manifest ----------------------------------------------------------------------- */

static int parse_shape(char *text, spec *s)
{
    s->numel = 1;
    for (char *d = text && *text ? strtok(text, ",") : NULL; d; d = strtok(NULL, ",")) {
        char *end;
        long long v = strtoll(d, &end, 10);
        if (*end || v <= 0 || s->ndim == SDC_MAX_DIMS || s->numel > (UINT64_MAX >> 4) / (uint64_t)v)
            return -1;
        s->shape[s->ndim++] = v;
        s->numel *= (uint64_t)v;
    }
    return 0;
}

static int push_spec(spec_list *out, spec s)
{
    if (out->count == out->capacity) {
        out->capacity = out->capacity ? 2 * out->capacity : 1024;
        spec *grown = realloc(out->items, out->capacity * sizeof *grown);
        if (!grown)
            return -1;
        out->items = grown;
    }
    if (!(s.name = strdup(s.name)))
        return -1;
    out->items[out->count++] = s;
    return 0;
}

static int ends_with(const char *s, const char *suffix);

/* The tensors of a safetensors file as a manifest (names, dtypes, shapes; no data read). */
static int read_safetensors_manifest(const char *path, sdc_dtype weight_type, spec_list *out)
{
    sdc_safetensors *st;
    if (sdc_safetensors_open(path, &st) != SDC_OK) {
        fprintf(stderr, "%s\n", sdc_last_error());
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sdc_safetensors_count(st); i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(st, i);
        spec s = {.name = (char *)e->name, .ndim = e->tensor.ndim, .numel = 1};
        for (int d = 0; d < s.ndim; d++)
            s.shape[d] = e->tensor.shape[d], s.numel *= (uint64_t)s.shape[d];
        int weight = sdc_dtype_is_weight(e->tensor.dtype) && schedule_index(e->name) < 0;
        s.dtype = weight ? weight_type : e->tensor.dtype;
        rc = push_spec(out, s);
    }
    sdc_safetensors_close(st);
    return rc;
}

static int read_manifest(const char *path, sdc_dtype weight_type, spec_list *out)
{
    if (ends_with(path, ".safetensors"))
        return read_safetensors_manifest(path, weight_type, out);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    char line[1024];
    for (int lineno = 1; fgets(line, sizeof line, f); lineno++) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        char *name = strtok(line, "\t"), *dtype = strtok(NULL, "\t"), *shape = strtok(NULL, "\t");
        int dt = dtype ? sdc_dtype_from_name(dtype) : -1;
        spec s = {0};
        if (!name || dt < 0 || parse_shape(shape, &s) != 0) {
            fprintf(stderr, "%s:%d: expected name<TAB>dtype<TAB>shape\n", path, lineno);
            fclose(f);
            return -1;
        }
        /* schedule buffers stay F32 like in released fp16 files: f16 would lose the
         * schedule's precision */
        int weight = sdc_dtype_is_weight((sdc_dtype)dt) && schedule_index(name) < 0;
        s.dtype = weight ? weight_type : (sdc_dtype)dt;
        s.name = name;
        if (push_spec(out, s) != 0) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

/* ---- values ------------------------------------------------------------------------- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a of the name: one stream per tensor */
    for (const char *c = name; *c; c++)
        h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
    uint64_t x = seed ^ h;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rng_next(rng *r) /* xoshiro256** */
{
    uint64_t *s = r->s, result = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t;
    s[3] = s[3] << 45 | s[3] >> 19;
    return result;
}

/* Two independent N(0, 1) draws (Box-Muller). */
static void rng_normal2(rng *r, float *a, float *b)
{
    double u1 = ((rng_next(r) >> 11) + 1) * 0x1.0p-53; /* (0, 1] keeps log finite */
    double u2 = (rng_next(r) >> 11) * 0x1.0p-53;
    double radius = sqrt(-2.0 * log(u1));
    *a = (float)(radius * cos(2 * M_PI * u2));
    *b = (float)(radius * sin(2 * M_PI * u2));
}

static const char *const schedule_names[] = {
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod",
    "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
    "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
};

/* The LDM buffer `which` at step t, in float64 as LDM computes it ("linear" schedule of
 * sqrt-spaced betas from 0.00085 to 0.012). */
static double schedule_value(int which, int t)
{
    double lo = sqrt(0.00085), hi = sqrt(0.012), ac = 1.0, prev = 1.0, beta = 0.0;
    for (int i = 0; i <= t; i++) {
        double b = lo + (hi - lo) * i / (SCHEDULE_STEPS - 1);
        beta = b * b;
        prev = ac;
        ac *= 1.0 - beta;
    }
    double post_var = beta * (1.0 - prev) / (1.0 - ac);
    switch (which) {
    case 0: return beta;
    case 1: return ac;
    case 2: return prev;
    case 3: return sqrt(ac);
    case 4: return sqrt(1.0 - ac);
    case 5: return log(1.0 - ac);
    case 6: return sqrt(1.0 / ac);
    case 7: return sqrt(1.0 / ac - 1.0);
    case 8: return post_var;
    case 9: return log(post_var > 1e-20 ? post_var : 1e-20);
    case 10: return beta * sqrt(prev) / (1.0 - ac);
    default: return (1.0 - prev) * sqrt(1.0 - beta) / (1.0 - ac);
    }
}

static int schedule_index(const char *name)
{
    for (size_t i = 0; i < sizeof schedule_names / sizeof schedule_names[0]; i++)
        if (strcmp(name, schedule_names[i]) == 0)
            return (int)i;
    return -1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

typedef enum fill_kind { FILL_NORMAL, FILL_ONE, FILL_ZERO, FILL_CONST, FILL_SCHEDULE, FILL_INDEX } fill_kind;

static fill_kind fill_of(const spec *s, double *constant)
{
    if (schedule_index(s->name) >= 0)
        return FILL_SCHEDULE;
    if (ends_with(s->name, "position_ids"))
        return FILL_INDEX;
    if (ends_with(s->name, "logit_scale") || ends_with(s->name, "model_ema.decay")) {
        *constant = ends_with(s->name, "logit_scale") ? log(100.0) : 0.9999;
        return FILL_CONST;
    }
    if (!sdc_dtype_is_weight(s->dtype) || ends_with(s->name, "bias"))
        return FILL_ZERO;
    if (s->ndim == 1 && ends_with(s->name, "weight"))
        return FILL_ONE; /* norm scales */
    return FILL_NORMAL;
}

/* Values [first, first + n) of tensor s into out (as doubles are not needed, floats). */
static void generate(const spec *s, fill_kind kind, double constant, rng *r, uint64_t first,
                     size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case FILL_NORMAL:
            if (i + 1 < n) {
                rng_normal2(r, &out[i], &out[i + 1]);
                out[i] *= 0.02f, out[i + 1] *= 0.02f, i++;
            } else {
                float spare;
                rng_normal2(r, &out[i], &spare);
                out[i] *= 0.02f;
            }
            break;
        case FILL_ONE: out[i] = 1.0f; break;
        case FILL_ZERO: out[i] = 0.0f; break;
        case FILL_CONST: out[i] = (float)constant; break;
        case FILL_SCHEDULE: out[i] = (float)schedule_value(schedule_index(s->name), (int)(first + i)); break;
        case FILL_INDEX: out[i] = (float)(first + i); break;
        }
    }
}

/* Converts n floats to the tensor's dtype in dst; returns the byte count. */
static size_t encode(const float *v, size_t n, sdc_dtype dtype, uint8_t *dst)
{
    for (size_t i = 0; i < n; i++) {
        switch (dtype) {
        case SDC_DTYPE_F16: { uint16_t h = sdc_f32_to_f16(v[i]); memcpy(dst + 2 * i, &h, 2); break; }
        case SDC_DTYPE_BF16: { uint16_t h = sdc_f32_to_bf16(v[i]); memcpy(dst + 2 * i, &h, 2); break; }
        case SDC_DTYPE_I64: { int64_t x = (int64_t)v[i]; memcpy(dst + 8 * i, &x, 8); break; }
        case SDC_DTYPE_I32: { int32_t x = (int32_t)v[i]; memcpy(dst + 4 * i, &x, 4); break; }
        case SDC_DTYPE_F64: { double x = v[i]; memcpy(dst + 8 * i, &x, 8); break; }
        default: memcpy(dst + 4 * i, &v[i], 4); break;
        }
    }
    return n * sdc_dtype_size(dtype);
}

/* ---- file --------------------------------------------------------------------------- */

static char *header_text(const spec_list *specs, size_t *padded)
{
    json_t *header = json_object(), *meta = json_pack("{s:s}", "format", "pt");
    json_object_set_new(header, "__metadata__", meta);
    uint64_t offset = 0;
    for (size_t i = 0; i < specs->count; i++) {
        const spec *s = &specs->items[i];
        json_t *shape = json_array();
        for (int d = 0; d < s->ndim; d++)
            json_array_append_new(shape, json_integer(s->shape[d]));
        uint64_t n = s->numel * sdc_dtype_size(s->dtype);
        json_object_set_new(header, s->name,
                            json_pack("{s:s, s:o, s:[I, I]}", "dtype", sdc_dtype_name(s->dtype),
                                      "shape", shape, "data_offsets", (json_int_t)offset,
                                      (json_int_t)(offset + n)));
        offset += n;
    }
    char *text = json_dumps(header, JSON_COMPACT);
    json_decref(header);
    if (text)
        *padded = (strlen(text) + 7) & ~(size_t)7; /* 8-aligned data, as safetensors writes */
    return text;
}

static int write_tensor(FILE *f, const spec *s, uint64_t seed, float *values, uint8_t *bytes)
{
    rng r;
    rng_seed(&r, seed, s->name);
    double constant = 0.0;
    fill_kind kind = fill_of(s, &constant);
    for (uint64_t done = 0; done < s->numel;) {
        size_t n = s->numel - done < CHUNK ? (size_t)(s->numel - done) : CHUNK;
        generate(s, kind, constant, &r, done, n, values);
        size_t nbytes = encode(values, n, s->dtype, bytes);
        if (fwrite(bytes, 1, nbytes, f) != nbytes)
            return -1;
        done += n;
    }
    return 0;
}

static int write_file(FILE *f, const spec_list *specs, uint64_t seed)
{
    size_t padded = 0;
    char *text = header_text(specs, &padded);
    float *values = malloc(CHUNK * sizeof *values);
    uint8_t *bytes = malloc(CHUNK * 8);
    int rc = text && values && bytes ? 0 : -1;
    if (rc == 0) {
        uint8_t len[8];
        for (int i = 0; i < 8; i++)
            len[i] = (uint8_t)((uint64_t)padded >> (8 * i));
        size_t tl = strlen(text);
        rc = fwrite(len, 1, 8, f) == 8 && fwrite(text, 1, tl, f) == tl ? 0 : -1;
        for (size_t i = tl; rc == 0 && i < padded; i++)
            rc = fputc(' ', f) == ' ' ? 0 : -1;
    }
    for (size_t i = 0; rc == 0 && i < specs->count; i++)
        rc = write_tensor(f, &specs->items[i], seed, values, bytes);
    free(bytes);
    free(values);
    free(text);
    return rc;
}

/* Writes to OUT.tmp.XXXXXX beside OUT, then renames: no partial output under OUT. */
static int write_atomically(const char *out, const spec_list *specs, uint64_t seed)
{
    /* the rename would put a file in place of a device (/dev/null) or a folder's link */
    struct stat st;
    if (lstat(out, &st) == 0 && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: exists and is not a regular file; not replaced\n", out);
        return -1;
    }
    size_t n = strlen(out) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp.XXXXXX", out);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    int rc = f ? write_file(f, specs, seed) : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    else if (!f && fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, out) != 0)
        rc = -1;
    if (rc != 0) {
        fprintf(stderr, "%s: cannot write: %s\n", out, strerror(errno));
        if (fd >= 0)
            unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* ---- ControlNet ----------------------------------------------------------------------- */

static const char unet_prefix[] = "model.diffusion_model.";

static int add_spec(spec_list *l, const char *name, sdc_dtype dtype, int ndim,
                    const int64_t *shape)
{
    spec s = {.name = (char *)name, .dtype = dtype, .ndim = ndim, .numel = 1};
    for (int d = 0; d < ndim; d++)
        s.shape[d] = shape[d], s.numel *= (uint64_t)shape[d];
    return push_spec(l, s);
}

static const spec *find_spec(const spec_list *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return &l->items[i];
    return NULL;
}

/* Output width of input block i (its resnet's last conv, or its downsampler), 0 when the
 * block does not exist. */
static int64_t block_width(const spec_list *unet, int i)
{
    char name[128];
    const char *parts[] = {"%s%d.0.weight", "%s%d.0.out_layers.3.weight", "%s%d.0.op.weight"};
    for (int k = 0; k < 3; k++) {
        snprintf(name, sizeof name, parts[k], "input_blocks.", i);
        if (i == 0 && k > 0)
            break;
        if (i > 0 && k == 0)
            continue;
        const spec *s = find_spec(unet, name);
        if (s)
            return s->shape[0];
    }
    return 0;
}

/* conv of `out` x `in` x k x k plus its bias */
static int add_conv(spec_list *l, const char *prefix, sdc_dtype t, int64_t out, int64_t in,
                    int64_t k)
{
    char name[160];
    int64_t w[4] = {out, in, k, k}, b[1] = {out};
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (add_spec(l, name, t, 4, w) != 0)
        return -1;
    snprintf(name, sizeof name, "%s.bias", prefix);
    return add_spec(l, name, t, 1, b);
}

static int controlnet_specs(const spec_list *ldm, sdc_dtype t, spec_list *out)
{
    static const char *const encoder[] = {"time_embed.", "label_emb.", "input_blocks.",
                                          "middle_block."};
    for (size_t i = 0; i < ldm->count; i++) {
        const spec *s = &ldm->items[i];
        if (strncmp(s->name, unet_prefix, strlen(unet_prefix)) != 0)
            continue;
        const char *rest = s->name + strlen(unet_prefix);
        for (int k = 0; k < 4; k++)
            if (strncmp(rest, encoder[k], strlen(encoder[k])) == 0 &&
                add_spec(out, rest, s->dtype, s->ndim, s->shape) != 0)
                return -1;
    }
    int64_t c0 = block_width(out, 0);
    const spec *mid = find_spec(out, "middle_block.2.out_layers.3.weight");
    if (!c0 || !mid) {
        fprintf(stderr, "the manifest has no SD UNet (model.diffusion_model.input_blocks.0.0, "
                        "middle_block.2)\n");
        return -1;
    }
    static const int64_t hint[8] = {16, 16, 32, 32, 96, 96, 256, 0};
    int64_t in = 3;
    for (int i = 0; i < 8; i++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "input_hint_block.%d", 2 * i);
        int64_t o = i == 7 ? c0 : hint[i];
        if (add_conv(out, prefix, t, o, in, 3) != 0)
            return -1;
        in = o;
    }
    int64_t w;
    for (int i = 0; (w = block_width(out, i)) > 0; i++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "zero_convs.%d.0", i);
        if (add_conv(out, prefix, t, w, w, 1) != 0)
            return -1;
    }
    return add_conv(out, "middle_block_out.0", t, mid->shape[0], mid->shape[0], 1);
}

/* ---- main --------------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: make-random-checkpoint [--type f16|f32] [--seed N] "
                    "[--extra EXTRA.tsv | --controlnet] MANIFEST.tsv OUT.safetensors\n");
    return 2;
}

static void free_specs(spec_list *specs)
{
    for (size_t i = 0; i < specs->count; i++)
        free(specs->items[i].name);
    free(specs->items);
}

int main(int argc, char **argv)
{
    sdc_dtype type = SDC_DTYPE_F16;
    uint64_t seed = 0;
    const char *extra = NULL, *paths[2];
    int npaths = 0, controlnet = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            const char *t = argv[++i];
            if (strcmp(t, "f16") != 0 && strcmp(t, "f32") != 0)
                return usage();
            type = strcmp(t, "f16") == 0 ? SDC_DTYPE_F16 : SDC_DTYPE_F32;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--controlnet") == 0) {
            controlnet = 1;
        } else if (strcmp(argv[i], "--extra") == 0 && i + 1 < argc) {
            extra = argv[++i];
        } else if (argv[i][0] != '-' && npaths < 2) {
            paths[npaths++] = argv[i];
        } else {
            return usage();
        }
    }
    if (npaths != 2)
        return usage();
    spec_list specs = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = read_manifest(paths[0], type, &specs);
    if (rc == 0 && extra)
        rc = read_manifest(extra, type, &specs);
    if (rc == 0 && controlnet) {
        spec_list net = {0};
        rc = controlnet_specs(&specs, type, &net);
        free_specs(&specs);
        specs = net;
    }
    if (rc == 0)
        rc = write_atomically(paths[1], &specs, seed);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc == 0) {
        uint64_t params = 0;
        for (size_t i = 0; i < specs.count; i++)
            params += specs.items[i].numel;
        printf("%s: %zu tensors, %llu values, %.1f s\n", paths[1], specs.count,
               (unsigned long long)params,
               (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    }
    free_specs(&specs);
    return rc == 0 ? 0 : 1;
}
