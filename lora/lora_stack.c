/* The LoRA files applied to a model and everything they changed, so that freeing the stack
 * puts the model back exactly: a merged layer gets its original weight back (the same view of
 * the checkpoint, so bit for bit), a layer with run-time adapters loses them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lora/lora.h"
#include "lora/lora_impl.h"
#include "ops/error.h"
#include "ops/pack_cache.h"
#include "ops/log.h"
#include "weights/ckpt.h"

typedef struct merged_layer {
    sdc_layer *layer;
    sdc_weight original; /* what l->w was before the first merge */
} merged_layer;

struct sdc_lora_stack {
    sdc_lora_targets targets;
    sdc_lora_mode mode;
    sdc_diffusers_hints hints;
    sdc_safetensors **files; /* run-time adapters are views of these */
    size_t n_files, cap_files;
    merged_layer *merged;
    size_t n_merged, cap_merged;
    sdc_layer **adapted; /* layers given run-time adapters */
    size_t n_adapted, cap_adapted;
    size_t unmatched, merged_bytes;
    char *first_unmatched;
    size_t file_unmatched; /* of the file being applied: its warning */
    char *file_first_unmatched;
};

sdc_status sdc_lora_stack_create(const sdc_lora_targets *targets, sdc_lora_mode mode,
                                 sdc_lora_stack **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for a LoRA stack");
    (*out)->targets = *targets;
    (*out)->mode = mode;
    sdc_lora_unet_hints(targets->unet, &(*out)->hints);
    return SDC_OK;
}

/* Gives every layer back what it had before the stack touched it. */
static void restore(sdc_lora_stack *s)
{
    for (size_t i = 0; i < s->n_adapted; i++)
        sdc_layer_clear_adapters(s->adapted[i]);
    for (size_t i = 0; i < s->n_merged; i++) {
        sdc_weight_free(&s->merged[i].layer->w);
        s->merged[i].layer->w = s->merged[i].original;
    }
    s->n_adapted = s->n_merged = 0;
    s->merged_bytes = 0;
}

static void close_files(sdc_lora_stack *s)
{
    for (size_t i = 0; i < s->n_files; i++)
        sdc_safetensors_close(s->files[i]);
    s->n_files = 0;
}

void sdc_lora_stack_free(sdc_lora_stack *s)
{
    if (!s)
        return;
    restore(s);
    close_files(s);
    free(s->files);
    free(s->merged);
    free(s->adapted);
    free(s->first_unmatched);
    free(s->file_first_unmatched);
    free(s);
}

size_t sdc_lora_unmatched(const sdc_lora_stack *s, const char **first)
{
    if (first)
        *first = s->first_unmatched;
    return s->unmatched;
}

size_t sdc_lora_merged_bytes(const sdc_lora_stack *s) { return s->merged_bytes; }

/* Grows an array of `size`-byte items to hold n + 1; 0 when out of memory. */
static int reserve(void **items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 1;
    size_t want = *cap ? *cap * 2 : 16;
    void *grown = realloc(*items, want * size);
    if (!grown)
        return 0;
    *items = grown;
    *cap = want;
    return 1;
}

/* l->w as an owned f32 copy, the original remembered the first time. */
static sdc_status own_weight(sdc_lora_stack *s, sdc_layer *l)
{
    for (size_t i = 0; i < s->n_merged; i++)
        if (s->merged[i].layer == l)
            return SDC_OK;
    if (!reserve((void **)&s->merged, &s->cap_merged, s->n_merged, sizeof *s->merged))
        return sdc_fail(SDC_ERR_NOMEM, "out of memory merging a LoRA");
    sdc_weight own;
    sdc_status st = sdc_weight_own_f32(&own, &l->w);
    if (st != SDC_OK)
        return st;
    s->merged[s->n_merged++] = (merged_layer){.layer = l, .original = l->w};
    l->w = own;
    s->merged_bytes += (size_t)own.rows * own.cols * sizeof(float);
    return SDC_OK;
}

/* W += factor * delta, factor = multiplier * scale (the order of the reference merges). */
static sdc_status merge(sdc_lora_stack *s, const sdc_lora_adapter *a, int kind, sdc_layer *l,
                        const char *path, float factor)
{
    float *delta;
    sdc_status st = sdc_lora_delta(a, kind, l, path, &delta);
    if (st == SDC_OK)
        st = own_weight(s, l);
    if (st == SDC_OK) {
        float *w = l->w.owned;
        for (size_t i = 0, n = (size_t)l->w.rows * l->w.cols; i < n; i++)
            w[i] += factor * delta[i];
        sdc_weight_pack_invalidate(&l->w); /* changed in place: a packed copy is stale */
    }
    free(delta);
    return st;
}

static sdc_status attach(sdc_lora_stack *s, const sdc_lora_adapter *a, sdc_layer *l,
                         const char *path, float factor)
{
    if (!reserve((void **)&s->adapted, &s->cap_adapted, s->n_adapted, sizeof *s->adapted))
        return sdc_fail(SDC_ERR_NOMEM, "out of memory attaching a LoRA");
    sdc_adapter *ad;
    sdc_status st = sdc_lora_runtime_adapter(a, l, path, factor, &ad);
    if (st == SDC_OK && (st = sdc_layer_add_adapter(l, ad)) != SDC_OK) {
        sdc_weight_free(&ad->down);
        sdc_weight_free(&ad->up);
        free(ad);
    }
    if (st == SDC_OK)
        s->adapted[s->n_adapted++] = l; /* a layer listed twice is cleared twice: harmless */
    return st;
}

static void note_unmatched(sdc_lora_stack *s, size_t tensors, const char *name)
{
    if (s->unmatched == 0 && !s->first_unmatched)
        s->first_unmatched = strdup(name);
    if (s->file_unmatched == 0 && !s->file_first_unmatched)
        s->file_first_unmatched = strdup(name);
    s->unmatched += tensors;
    s->file_unmatched += tensors;
}

static size_t parts_of(const sdc_lora_adapter *a, const char **first)
{
    size_t n = 0;
    for (int k = LORA_SLOTS - 1; k >= 0; k--)
        if (a->part[k])
            n++, *first = a->part[k]->name;
    return n;
}

static sdc_status apply_adapter(sdc_lora_stack *s, const sdc_lora_adapter *a, const char *path,
                                float multiplier)
{
    sdc_layer *l = sdc_lora_target(&s->targets, &s->hints, a);
    if (!l) {
        const char *first = NULL;
        size_t n = parts_of(a, &first);
        note_unmatched(s, n, first);
        return SDC_OK;
    }
    int kind = sdc_lora_adapter_kind(a);
    if (kind < 0)
        return sdc_fail(SDC_ERR_FORMAT, "%s: the tensors of module '%s' make no known adapter "
                        "(LoRA down/up, lora_mid, hada_*, lokr_*, diff)", path, a->module);
    float scale;
    sdc_status st = sdc_lora_scale(a, kind, path, &scale);
    if (st != SDC_OK)
        return st;
    float factor = (float)((double)multiplier * scale);
    if (s->mode == SDC_LORA_RUNTIME && kind == SDC_LORA_KIND_LORA)
        return attach(s, a, l, path, factor);
    return merge(s, a, kind, l, path, factor);
}

/* Some adapters of a file may name layers a model lacks (skipped, as AUTOMATIC1111 does);
 * when none of them names one, the file was made for another model family. */
static sdc_status check_family(sdc_lora_stack *s, const sdc_lora_adapter *list, size_t n,
                               const char *path)
{
    for (size_t i = 0; i < n && !s->targets.te2; i++)
        if (list[i].component == SDC_LORA_TE2)
            return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: a LoRA for SDXL (it changes a second "
                            "text encoder, '%s'), and this model has one", path,
                            list[i].module);
    for (size_t i = 0; i < n; i++)
        if (sdc_lora_target(&s->targets, &s->hints, &list[i]))
            return SDC_OK;
    const char *first = "";
    if (n)
        parts_of(&list[0], &first);
    return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: none of its %zu adapters names a layer of this "
                    "model (first '%s'): a LoRA for another model family?", path, n, first);
}

static sdc_status apply_file(sdc_lora_stack *s, sdc_safetensors *st, float te_mult,
                             float unet_mult)
{
    const char *path = sdc_safetensors_path(st);
    int layout = sdc_lora_detect_layout(st);
    if (layout < 0)
        return sdc_fail(SDC_ERR_FORMAT, "%s: not a LoRA file of a known layout (kohya-ss "
                        "lora_unet_* / lora_te_*, diffusers unet.* / text_encoder.*); first "
                        "tensor '%s'", path,
                        sdc_safetensors_count(st) ? sdc_safetensors_entry(st, 0)->name : "none");
    sdc_lora_adapter *list;
    size_t n, unparsed;
    const char *first_unparsed;
    sdc_status rc = sdc_lora_read_adapters(st, (sdc_lora_layout)layout, &list, &n, &unparsed,
                                           &first_unparsed);
    if (rc != SDC_OK)
        return rc;
    if (unparsed)
        note_unmatched(s, unparsed, first_unparsed);
    rc = check_family(s, list, n, path);
    for (size_t i = 0; rc == SDC_OK && i < n; i++) {
        float m = list[i].component == SDC_LORA_UNET ? unet_mult : te_mult;
        if (m != 0.0f) /* a weight of 0 leaves the model exactly as it is */
            rc = apply_adapter(s, &list[i], path, m);
    }
    sdc_lora_adapters_free(list, n);
    return rc;
}

sdc_status sdc_lora_apply(sdc_lora_stack *s, const char *path, float te_multiplier,
                          float unet_multiplier)
{
    if (!isfinite(te_multiplier) || !isfinite(unet_multiplier))
        return sdc_fail(SDC_ERR_ARG, "%s: LoRA weight is not a finite number", path);
    sdc_safetensors *st;
    sdc_status rc = sdc_ckpt_sniff(path) ? sdc_ckpt_open(path, &st)
                                         : sdc_safetensors_open(path, &st);
    if (rc != SDC_OK)
        return rc;
    s->file_unmatched = 0;
    free(s->file_first_unmatched);
    s->file_first_unmatched = NULL;
    if (!reserve((void **)&s->files, &s->cap_files, s->n_files, sizeof *s->files))
        rc = sdc_fail(SDC_ERR_NOMEM, "out of memory applying %s", path);
    if (rc == SDC_OK)
        rc = apply_file(s, st, te_multiplier, unet_multiplier);
    if (rc != SDC_OK) {
        /* a half-applied file cannot be taken out of shared merged copies alone: the model
         * goes back to its original weights */
        restore(s);
        close_files(s);
        sdc_safetensors_close(st);
        return rc;
    }
    s->files[s->n_files++] = st;
    if (s->file_unmatched) /* as AUTOMATIC1111: skipped, and said */
        sdc_log(SDC_LOG_WARNING, "LoRA %s: %zu tensors match no layer of this model and were "
                "skipped (first '%s')", path, s->file_unmatched,
                s->file_first_unmatched ? s->file_first_unmatched : "?");
    return SDC_OK;
}
