#include "weights/info.h"

#include <inttypes.h>
#include <string.h>

#include "clip/text_family.h"
#include "ops/error.h"
#include "ops/quant.h"
#include "weights/gguf.h"

/* 1234567 -> "1,234,567". */
static const char *grouped(int64_t v, char buf[32])
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%" PRId64, v), k = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && digits[i - 1] != '-' && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
    return buf;
}

/* The component's dtypes, the one holding most parameters first ("F16", "F16+F32"). */
static const char *dtypes(const sdc_checkpoint *ck, sdc_component c, char buf[64])
{
    int64_t per[SDC_DTYPE_COUNT] = {0};
    for (size_t i = 0; i < sdc_checkpoint_count(ck, c); i++) {
        const sdc_tensor *t;
        sdc_checkpoint_name_at(ck, c, i, &t);
        if (sdc_dtype_is_weight(t->dtype))
            per[t->dtype] += sdc_tensor_numel(t);
    }
    sdc_dtype main = sdc_checkpoint_dtype(ck, c);
    snprintf(buf, 64, "%s", sdc_dtype_name(main));
    for (int d = 0; d < SDC_DTYPE_COUNT; d++)
        if (d != (int)main && per[d] > 0)
            snprintf(buf + strlen(buf), 64 - strlen(buf), "+%s", sdc_dtype_name((sdc_dtype)d));
    return buf;
}

/* label padded to the 14-column value column, at least one space after it */
static void print_label(FILE *out, const char *label)
{
    int len = (int)strlen(label);
    fprintf(out, "%s%*s", label, len < 14 ? 14 - len : 1, "");
}

static void print_component(const sdc_checkpoint *ck, sdc_component c, FILE *out)
{
    char num[32], types[64];
    size_t count = sdc_checkpoint_count(ck, c);
    if (!count) {
        if (c != SDC_COMPONENT_TEXT2) /* only SDXL has a second text encoder */
            fprintf(out, "%-14s(none)\n", sdc_component_name(c));
        return;
    }
    print_label(out, sdc_component_name(c));
    fprintf(out, "%s parameters, %s, %zu tensors\n", grouped(sdc_checkpoint_param_count(ck, c), num), dtypes(ck, c, types), count);
}

static void print_family(const sdc_checkpoint *ck, FILE *out)
{
    int in = sdc_checkpoint_unet_in_channels(ck);
    fprintf(out, "family:       %s", sdc_family_name(sdc_checkpoint_family(ck)));
    if (in != 4)
        fprintf(out, " (%s, %d input channels)",
                in == 9 ? "inpainting" : in == 5 ? "depth: needs --depth-map" : "unusual", in);
    if (sdc_checkpoint_family(ck) == SDC_FAMILY_SDXL)
        fprintf(out, " %s", !sdc_checkpoint_count(ck, SDC_COMPONENT_TEXT) &&
                                    sdc_checkpoint_count(ck, SDC_COMPONENT_TEXT2)
                                ? "refiner (OpenCLIP bigG only)"
                                : "base");
    fprintf(out, "\n");
    if (sdc_checkpoint_context_dim(ck))
        fprintf(out, "context:      %d\n", sdc_checkpoint_context_dim(ck));
}

/* A GGUF file's version, its tensors per ggml type (quantised ones read as F32 above) and
 * its key-value metadata, one pair a line. */
static sdc_status print_gguf(const char *path, FILE *out)
{
    sdc_gguf *g;
    sdc_status s = sdc_gguf_open(path, &g);
    if (s != SDC_OK)
        return s;
    enum { TYPES = 64 };
    size_t per[TYPES] = {0};
    for (size_t i = 0; i < sdc_gguf_count(g); i++)
        per[sdc_gguf_tensor_at(g, i)->type % TYPES]++; /* ids are < 43 (sdc_qtype_get) */
    fprintf(out, "gguf:         version %u, %zu tensors:", sdc_gguf_version(g), sdc_gguf_count(g));
    for (int t = 0, first = 1; t < TYPES; t++)
        if (per[t]) {
            fprintf(out, "%s %zu %s", first ? "" : ",", per[t], sdc_qtype_name((uint32_t)t));
            first = 0;
        }
    fputc('\n', out);
    for (size_t i = 0; i < sdc_gguf_kv_count(g); i++) {
        const sdc_gguf_kv *kv = sdc_gguf_kv_at(g, i);
        fputs("metadata:     ", out);
        sdc_fputs_escaped(kv->key, out, 0);
        fputs(" = ", out);
        sdc_fputs_escaped(kv->value, out, 0);
        fputc('\n', out);
    }
    sdc_gguf_close(g);
    return SDC_OK;
}

static void print_text(const sdc_checkpoint *ck, sdc_component c, const char *label, FILE *out)
{
    if (!sdc_checkpoint_count(ck, c))
        return;
    sdc_text_family f = sdc_text_family_of(ck, c);
    print_label(out, label);
    fprintf(out, "%d stored, %d used for conditioning%s, %s, pad token %d\n", f.layers, f.cond_layers, f.final_norm ? "" : " (no final norm)",
            f.quick_gelu ? "quick_gelu" : "gelu", f.pad_token);
}

sdc_status sdc_checkpoint_info_print(const sdc_checkpoint *ck, FILE *out, int with_hash)
{
    fputs("model:        ", out); /* file names may hold anything but '/' and NUL */
    sdc_fputs_escaped(sdc_checkpoint_path(ck), out, 0);
    fputc('\n', out);
    fprintf(out, "layout:       %s\n", sdc_layout_name(sdc_checkpoint_layout(ck)));
    if (sdc_checkpoint_layout(ck) == SDC_LAYOUT_SINGLE_FILE && sdc_gguf_sniff(sdc_checkpoint_path(ck))) {
        sdc_status s = print_gguf(sdc_checkpoint_path(ck), out);
        if (s != SDC_OK)
            return s;
    }
    print_family(ck, out);
    fprintf(out, "prediction:   %s (%s)\n", sdc_prediction_name(sdc_checkpoint_prediction(ck)),
            sdc_checkpoint_prediction_source(ck));
    for (int c = 0; c < SDC_COMPONENT_COUNT; c++)
        print_component(ck, (sdc_component)c, out);
    print_text(ck, SDC_COMPONENT_TEXT, "text layers:", out);
    print_text(ck, SDC_COMPONENT_TEXT2, "text 2 layers:", out);
    if (sdc_checkpoint_tokenizer_dir(ck)) {
        fputs("tokenizer:    ", out);
        sdc_fputs_escaped(sdc_checkpoint_tokenizer_dir(ck), out, 0);
        fputc('\n', out);
    }
    fprintf(out, "unused:       %zu tensors\n", sdc_checkpoint_unused_count(ck));
    if (!with_hash)
        return SDC_OK;
    char hash[11];
    sdc_status s = sdc_checkpoint_short_hash(ck, hash);
    if (s == SDC_OK) {
        fprintf(out, "hash:         %s (sha256 of ", hash);
        sdc_fputs_escaped(sdc_checkpoint_hash_path(ck), out, 0);
        fputs(")\n", out);
    }
    return s;
}

sdc_status sdc_model_info_print(const char *path, FILE *out)
{
    sdc_checkpoint *ck;
    sdc_status s = sdc_checkpoint_open(path, &ck);
    if (s != SDC_OK)
        return s;
    s = sdc_checkpoint_info_print(ck, out, 1);
    sdc_checkpoint_close(ck);
    return s;
}

/* Storage types: the dtypes, then ggml's block types by id. */
enum { MEM_TYPES = SDC_DTYPE_COUNT + 64 };

/* The type a tensor is held as (q: quantised at load), else its file's. */
static int storage_type(const sdc_tensor *t, const sdc_qtype_info *q)
{
    q = q ? q : t->quant;
    /* sdc_qtype_get returns rows of one table indexed by ggml id */
    return q ? SDC_DTYPE_COUNT + (int)(q - sdc_qtype_get(0)) : (int)t->dtype;
}

static const char *storage_name(int type)
{
    return type < SDC_DTYPE_COUNT ? sdc_dtype_name((sdc_dtype)type)
                                  : sdc_qtype_name((uint32_t)(type - SDC_DTYPE_COUNT));
}

void sdc_checkpoint_memory_text(const sdc_checkpoint *ck, char *buf, size_t size)
{
    double bytes[MEM_TYPES] = {0};
    for (int c = 0; c < SDC_COMPONENT_COUNT; c++)
        for (size_t i = 0; i < sdc_checkpoint_count(ck, (sdc_component)c); i++) {
            const sdc_tensor *t;
            sdc_checkpoint_name_at(ck, (sdc_component)c, i, &t);
            const sdc_qtype_info *held = sdc_checkpoint_held_as(ck, (sdc_component)c, i);
            const sdc_qtype_info *q = held ? held : t->quant;
            double n = (double)sdc_tensor_numel(t);
            bytes[storage_type(t, held) % MEM_TYPES] +=
                q ? n / q->block * q->block_bytes : n * (double)sdc_dtype_size(t->dtype);
        }
    size_t used = (size_t)snprintf(buf, size, "weights:");
    for (int shown = 0;; shown++) {
        int best = -1;
        for (int k = 0; k < MEM_TYPES; k++)
            if (bytes[k] > 0 && (best < 0 || bytes[k] > bytes[best]))
                best = k;
        if (best < 0 || used >= size)
            break;
        used += (size_t)snprintf(buf + used, size - used, "%s %s %.0f MiB", shown ? "," : "",
                                 storage_name(best), bytes[best] / (1 << 20));
        bytes[best] = 0;
    }
}
