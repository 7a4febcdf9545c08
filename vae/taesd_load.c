/* Loading a TAESD: which layout a file has, its key set read into layer indices, and the
 * sequence of convs and Blocks checked against what TAESD computes (vae/taesd.h). Every
 * tensor of a file must be used, so a file of another model is refused by name. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/error.h"
#include "vae/taesd_impl.h"
#include "weights/json_file.h"

/* The tensors one layer index may have: a conv's, or a Block's three convs. */
enum { PART_W, PART_B, PART_C0W, PART_C0B, PART_C2W, PART_C2B, PART_C4W, PART_C4B, N_PARTS };
static const char *const part_names[N_PARTS] = {
    "weight", "bias", "conv.0.weight", "conv.0.bias",
    "conv.2.weight", "conv.2.bias", "conv.4.weight", "conv.4.bias",
};

typedef enum { HALF_DECODER, HALF_ENCODER } half_kind;

/* One half's tensors by layer index (diffusers numbering) and part. */
typedef struct half_keys {
    const char *path;
    const char *prefix; /* "decoder.layers.", "encoder.layers.", or "" (original layout) */
    int offset;         /* file index - diffusers index: 1 for an original decoder, else 0 */
    int n;              /* highest index + 1 */
    const sdc_st_entry *t[SDC_TAESD_MAX_OPS][N_PARTS];
} half_keys;

/* Index and part of `name` = "<prefix><index>.<part>"; 0 when it is not such a name. */
static int parse_key(const half_keys *k, const char *name, int *index, int *part)
{
    size_t plen = strlen(k->prefix);
    if (strncmp(name, k->prefix, plen) != 0)
        return 0;
    const char *p = name + plen;
    int v = 0, digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
        v = v * 10 + (*p - '0');
    if (digits == 0 || digits == 4 || *p != '.' || (digits > 1 && name[plen] == '0'))
        return 0;
    for (int i = 0; i < N_PARTS; i++)
        if (strcmp(p + 1, part_names[i]) == 0) {
            *index = v - k->offset;
            *part = i;
            return *index >= 0 && *index < SDC_TAESD_MAX_OPS;
        }
    return 0;
}

/* Files the tensor under its index; an unknown name is the file's error. */
static sdc_status add_key(half_keys *k, const sdc_st_entry *e)
{
    int index, part;
    if (!parse_key(k, e->name, &index, &part))
        return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' is not part of a TAESD", k->path,
                        e->name);
    k->t[index][part] = e;
    if (index + 1 > k->n)
        k->n = index + 1;
    return SDC_OK;
}

static sdc_status shape_error(const half_keys *k, const sdc_st_entry *e, const char *want)
{
    const sdc_tensor *t = &e->tensor;
    char dims[96] = "";
    size_t used = 0;
    for (int i = 0; i < t->ndim && used < sizeof dims - 24; i++)
        used += (size_t)snprintf(dims + used, sizeof dims - used, "%s%lld", i ? ", " : "",
                                 (long long)t->shape[i]);
    return sdc_fail(SDC_ERR_FORMAT, "%s: TAESD tensor '%s' has shape [%s], expected %s", k->path,
                    e->name, dims, want);
}

/* l = the 3x3 conv of weight w [out, in, 3, 3] and bias b [out] (b may be NULL). */
static sdc_status load_conv(const half_keys *k, const sdc_st_entry *w, const sdc_st_entry *b,
                            int in, sdc_layer *l)
{
    memset(l, 0, sizeof *l);
    const sdc_tensor *t = &w->tensor;
    char want[64];
    snprintf(want, sizeof want, "[out, %d, 3, 3]", in);
    if (t->ndim != 4 || t->shape[0] < 1 || t->shape[0] > SDC_TAESD_MAX_CHANNELS ||
        t->shape[1] != in || t->shape[2] != 3 || t->shape[3] != 3)
        return shape_error(k, w, want);
    int out = (int)t->shape[0];
    sdc_status s = sdc_weight_load(&l->w, t, out, in * 9, w->name);
    snprintf(want, sizeof want, "[%d]", out);
    if (s == SDC_OK && b && b->tensor.ndim != 1)
        return shape_error(k, b, want);
    if (s == SDC_OK && b)
        s = sdc_vector_load(&l->bias, &b->tensor, out, b->name);
    l->in = in;
    l->k = 3;
    if (s != SDC_OK)
        sdc_error_prefix("%s", k->path);
    return s;
}

static void net_free(sdc_taesd_net *n)
{
    for (int i = 0; i < n->n_ops; i++)
        for (int j = 0; j < 3; j++)
            sdc_layer_free(&n->ops[i].conv[j]);
    free(n->path);
    memset(n, 0, sizeof *n);
}

/* A Block at index i: three [c, c, 3, 3] convs with biases. */
static sdc_status load_block(const half_keys *k, int i, int c, sdc_taesd_op *op)
{
    op->block = 1;
    for (int j = 0; j < 3; j++) {
        const sdc_st_entry *w = k->t[i][PART_C0W + 2 * j], *b = k->t[i][PART_C0B + 2 * j];
        if (!w || !b)
            return sdc_fail(SDC_ERR_FORMAT, "%s: TAESD block %s%d lacks conv.%d.%s", k->path,
                            k->prefix, i + k->offset, 2 * j, w ? "bias" : "weight");
        sdc_status s = load_conv(k, w, b, c, &op->conv[j]);
        if (s == SDC_OK && op->conv[j].w.rows != c)
            s = shape_error(k, w, "a block keeping its channel count");
        if (s != SDC_OK)
            return s;
    }
    return SDC_OK;
}

/* What a conv without bias means: the decoder's conv after an upsample (the index before it
 * holds nothing), the encoder's stride-2 conv. Convs with bias only start and end a half. */
static sdc_status place_conv(const half_keys *k, half_kind kind, int i, int after_gap,
                             sdc_taesd_op *op, int *resamples)
{
    int has_bias = op->conv[0].bias != NULL, end = i == 0 || i == k->n - 1;
    const char *why = NULL;
    if (has_bias && !end)
        why = "a conv with bias inside the network";
    else if (!has_bias && end)
        why = "no bias on its first or last conv";
    else if (kind == HALF_DECODER && !has_bias && !after_gap)
        why = "an upsampling conv that follows no upsample";
    if (why)
        return sdc_fail(SDC_ERR_FORMAT, "%s: not a TAESD %s: %s (layer %s%d)", k->path,
                        kind == HALF_DECODER ? "decoder" : "encoder", why, k->prefix,
                        i + k->offset);
    op->resample = !has_bias;
    *resamples += !has_bias;
    return SDC_OK;
}

/* Layer i: an empty index (decoder: the ReLU after its first conv, or an upsample), a conv,
 * or a Block. `c` is the channel count flowing in and comes back updated. */
static sdc_status load_index(const half_keys *k, half_kind kind, int i, sdc_taesd_net *n,
                             int *c, int *gap, int *resamples)
{
    const sdc_st_entry *const *t = k->t[i];
    int conv = t[PART_W] || t[PART_B], block = 0;
    for (int p = PART_C0W; p < N_PARTS; p++)
        block |= t[p] != NULL;
    if (!conv && !block) {
        if (kind == HALF_ENCODER || i == 0 || *gap)
            return sdc_fail(SDC_ERR_FORMAT, "%s: TAESD %s layer %s%d is missing", k->path,
                            kind == HALF_DECODER ? "decoder" : "encoder", k->prefix,
                            i + k->offset);
        if (i == 1)
            n->ops[0].relu = 1;
        else
            *gap = 1;
        return SDC_OK;
    }
    if (conv && (block || !t[PART_W]))
        return sdc_fail(SDC_ERR_FORMAT, "%s: TAESD layer %s%d is neither a conv nor a block",
                        k->path, k->prefix, i + k->offset);
    sdc_taesd_op *op = &n->ops[n->n_ops++];
    sdc_status s = block ? load_block(k, i, *c, op) : load_conv(k, t[PART_W], t[PART_B], *c,
                                                               &op->conv[0]);
    if (s == SDC_OK && !block)
        s = place_conv(k, kind, i, *gap, op, resamples);
    if (s == SDC_OK && block && *gap)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: TAESD upsample before block %s%d", k->path,
                     k->prefix, i + k->offset);
    *gap = 0;
    *c = op->conv[0].w.rows;
    if (*c > n->max_channels)
        n->max_channels = *c;
    return s;
}

/* The half of keys `k`, checked end to end: its input (decoder: any latent width; encoder:
 * RGB), its three resampling steps, its output (decoder: RGB). */
static sdc_status build_net(const half_keys *k, half_kind kind, sdc_taesd_net *n)
{
    memset(n, 0, sizeof *n);
    const sdc_st_entry *first = k->t[0][PART_W];
    if (!first || first->tensor.ndim != 4)
        return sdc_fail(SDC_ERR_FORMAT, "%s: TAESD %s has no first conv %s%d.weight", k->path,
                        kind == HALF_DECODER ? "decoder" : "encoder", k->prefix, k->offset);
    int c = (int)first->tensor.shape[1], gap = 0, resamples = 0;
    n->in_channels = c;
    if (c < 1 || c > SDC_TAESD_MAX_CHANNELS || (kind == HALF_ENCODER && c != 3))
        return shape_error(k, first, kind == HALF_ENCODER ? "[C, 3, 3, 3]" : "[C, zc, 3, 3]");
    sdc_status s = SDC_OK;
    for (int i = 0; i < k->n && s == SDC_OK; i++)
        s = load_index(k, kind, i, n, &c, &gap, &resamples);
    n->out_channels = c;
    if (s == SDC_OK && n->ops[n->n_ops - 1].block)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: TAESD %s ends in a block, not a conv", k->path,
                     kind == HALF_DECODER ? "decoder" : "encoder");
    if (s == SDC_OK && kind == HALF_DECODER && !n->ops[0].relu)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: TAESD decoder lacks the ReLU after its first conv "
                     "(layer %s%d is not empty)", k->path, k->prefix, 1 + k->offset);
    if (s == SDC_OK && resamples != SDC_TAESD_LEVELS)
        s = sdc_fail(SDC_ERR_UNSUPPORTED, "%s: TAESD %s has %d resampling convs, not %d", k->path,
                     kind == HALF_DECODER ? "decoder" : "encoder", resamples, SDC_TAESD_LEVELS);
    if (s == SDC_OK && kind == HALF_DECODER && c != 3)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: TAESD decoder makes %d channels, not RGB", k->path, c);
    if (s == SDC_OK && !(n->path = strdup(k->path)))
        s = sdc_fail(SDC_ERR_NOMEM, "out of memory loading %s", k->path);
    if (s != SDC_OK)
        net_free(n);
    return s;
}

/* Loads the half of `st` named by prefix / offset into t's dec or enc. */
static sdc_status load_half(sdc_taesd *t, const sdc_safetensors *st, half_kind kind,
                            const char *prefix, int offset)
{
    half_keys *k = calloc(1, sizeof *k);
    if (!k)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory loading %s", sdc_safetensors_path(st));
    *k = (half_keys){.path = sdc_safetensors_path(st), .prefix = prefix, .offset = offset};
    sdc_status s = SDC_OK;
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < sdc_safetensors_count(st) && s == SDC_OK; i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(st, i);
        if (strncmp(e->name, prefix, plen) == 0)
            s = add_key(k, e);
    }
    if (s == SDC_OK)
        s = build_net(k, kind, kind == HALF_DECODER ? &t->dec : &t->enc);
    if (s == SDC_OK)
        *(kind == HALF_DECODER ? &t->has_decoder : &t->has_encoder) = 1;
    free(k);
    return s;
}

/* Which original half a file of bare indices is: 1.weight taking the latent (a decoder, its
 * index 0 being the clamp) or 0.weight taking RGB (an encoder). */
static sdc_status original_kind(const sdc_safetensors *st, half_kind *kind)
{
    const sdc_st_entry *d = sdc_safetensors_find(st, "1.weight");
    const sdc_st_entry *e = sdc_safetensors_find(st, "0.weight");
    if (e && e->tensor.ndim == 4 && e->tensor.shape[1] == 3)
        *kind = HALF_ENCODER;
    else if (d && !e)
        *kind = HALF_DECODER;
    else
        return sdc_fail(SDC_ERR_FORMAT, "%s: not a TAESD file (no decoder.layers.* or "
                        "encoder.layers.* keys, and neither 1.weight of a decoder nor 0.weight "
                        "of an encoder)", sdc_safetensors_path(st));
    return SDC_OK;
}

/* Loads one file: both halves of a diffusers file, or one original half. Every tensor must
 * belong to a half. */
static sdc_status load_file(sdc_taesd *t, const sdc_safetensors *st, half_kind *original)
{
    int dec = 0, enc = 0;
    for (size_t i = 0; i < sdc_safetensors_count(st); i++) {
        const char *name = sdc_safetensors_entry(st, i)->name;
        dec |= strncmp(name, "decoder.layers.", 15) == 0;
        enc |= strncmp(name, "encoder.layers.", 15) == 0;
    }
    sdc_status s = SDC_OK;
    if (dec || enc) {
        *original = (half_kind)-1;
        for (size_t i = 0; i < sdc_safetensors_count(st) && s == SDC_OK; i++) {
            const char *name = sdc_safetensors_entry(st, i)->name;
            if (strncmp(name, "decoder.layers.", 15) && strncmp(name, "encoder.layers.", 15))
                s = sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' is not part of a TAESD",
                             sdc_safetensors_path(st), name);
        }
        if (s == SDC_OK && dec)
            s = load_half(t, st, HALF_DECODER, "decoder.layers.", 0);
        if (s == SDC_OK && enc)
            s = load_half(t, st, HALF_ENCODER, "encoder.layers.", 0);
        return s;
    }
    s = original_kind(st, original);
    if (s == SDC_OK)
        s = load_half(t, st, *original, "", *original == HALF_DECODER ? 1 : 0);
    return s;
}

/* buf = path with the last "_decoder" of its file name turned into "_encoder" (or back);
 * 0 when the name has none. */
static int sibling_path(const char *path, half_kind have, char *buf, size_t size)
{
    const char *from = have == HALF_DECODER ? "_decoder" : "_encoder";
    const char *to = have == HALF_DECODER ? "_encoder" : "_decoder";
    const char *base = strrchr(path, '/'), *hit = NULL;
    base = base ? base + 1 : path;
    for (const char *p = strstr(base, from); p; p = strstr(p + 1, from))
        hit = p;
    if (!hit || strlen(path) >= size)
        return 0;
    memcpy(buf, path, strlen(path) + 1);
    memcpy(buf + (hit - path), to, strlen(to));
    return 1;
}

/* An original half's other half, from the file beside it when there is one. */
static sdc_status load_sibling(sdc_taesd *t, half_kind have)
{
    char other[4096];
    if (!sibling_path(sdc_safetensors_path(t->files[0]), have, other, sizeof other) ||
        !sdc_is_file(other))
        return SDC_OK;
    sdc_status s = sdc_safetensors_open(other, &t->files[1]);
    half_kind got = have;
    if (s == SDC_OK)
        s = load_file(t, t->files[1], &got);
    if (s == SDC_OK && got == have)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: a TAESD %s where its %s was expected (beside %s)",
                     other, got == HALF_DECODER ? "decoder" : "encoder",
                     got == HALF_DECODER ? "encoder" : "decoder",
                     sdc_safetensors_path(t->files[0]));
    return s;
}

static sdc_status check_halves(const sdc_taesd *t)
{
    if (t->has_decoder && t->has_encoder && t->dec.in_channels != t->enc.out_channels)
        return sdc_fail(SDC_ERR_FORMAT, "%s: TAESD decoder takes %d latent channels, its "
                        "encoder %s makes %d", t->dec.path, t->dec.in_channels, t->enc.path,
                        t->enc.out_channels);
    return SDC_OK;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* The file of a TAESD folder, as one is downloaded (madebyollin/taesd, taesdxl): the
 * diffusers file (both halves) when there is one, else the one original *_decoder file
 * (whose encoder load_sibling then finds beside it). */
static sdc_status folder_file(const char *dir, char *buf, size_t size)
{
    static const char *const diffusers[] = {"diffusion_pytorch_model.safetensors",
                                            "diffusion_pytorch_model.fp16.safetensors"};
    for (int i = 0; i < 2; i++)
        if (snprintf(buf, size, "%s/%s", dir, diffusers[i]) < (int)size && sdc_is_file(buf))
            return SDC_OK;
    DIR *d = opendir(dir);
    if (!d)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open the folder", dir);
    int found = 0;
    char name[256] = "";
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.' && ends_with(e->d_name, "_decoder.safetensors") &&
            found++ == 0)
            snprintf(name, sizeof name, "%s", e->d_name);
    closedir(d);
    if (found == 1) {
        if (snprintf(buf, size, "%s/%s", dir, name) >= (int)size)
            return sdc_fail(SDC_ERR_ARG, "%s: path too long", dir);
        return SDC_OK;
    }
    if (found > 1)
        return sdc_fail(SDC_ERR_ARG, "%s: more than one *_decoder.safetensors in the folder; "
                        "name the file itself", dir);
    return sdc_fail(SDC_ERR_IO, "%s: a folder with no TAESD in it (no "
                    "diffusion_pytorch_model.safetensors, no *_decoder.safetensors)", dir);
}

sdc_status sdc_taesd_load(const char *path, sdc_taesd **out)
{
    *out = NULL;
    struct stat sb;
    char file[4096];
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        sdc_status s = folder_file(path, file, sizeof file);
        if (s != SDC_OK)
            return s;
        path = file;
    }
    sdc_taesd *t = calloc(1, sizeof *t);
    if (!t)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory loading %s", path);
    sdc_arena_init(&t->arena);
    half_kind original = (half_kind)-1;
    sdc_status s = sdc_safetensors_open(path, &t->files[0]);
    if (s == SDC_OK)
        s = load_file(t, t->files[0], &original);
    if (s == SDC_OK && (int)original >= 0)
        s = load_sibling(t, original);
    if (s == SDC_OK)
        s = check_halves(t);
    if (s != SDC_OK) {
        sdc_taesd_free(t);
        return s;
    }
    *out = t;
    return SDC_OK;
}

void sdc_taesd_free(sdc_taesd *t)
{
    if (!t)
        return;
    net_free(&t->dec);
    net_free(&t->enc);
    sdc_arena_free(&t->arena);
    for (int i = 0; i < 2; i++)
        sdc_safetensors_close(t->files[i]);
    free(t);
}

const char *sdc_taesd_decoder_path(const sdc_taesd *t)
{
    return t->has_decoder ? t->dec.path : NULL;
}

const char *sdc_taesd_encoder_path(const sdc_taesd *t)
{
    return t->has_encoder ? t->enc.path : NULL;
}

int sdc_taesd_latent_channels(const sdc_taesd *t)
{
    return t->has_decoder ? t->dec.in_channels : t->enc.out_channels;
}

void sdc_taesd_free_activations(sdc_taesd *t)
{
    if (t)
        sdc_arena_free(&t->arena);
}
