/* A GGUF file as a table of tensors (sdc_safetensors_wrap), so every layout reads it like a
 * .safetensors file: LDM names, PyTorch shapes (ggml's ne[] reversed). F32, F16 and BF16
 * tensors are views of the mapping; block-quantised ones (and any tensor stored misaligned
 * for its type) are expanded to f32 on first use (sdc_safetensors_load) into address space
 * reserved at open, so `sdc info` or a tensor the model never reads costs no memory. */
#include "weights/gguf_table.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "ops/error.h"
#include "ops/quant.h"
#include "weights/gguf.h"

/* A tensor expanded on first use: its reserved f32 space. */
typedef struct lazy {
    const sdc_gguf_tensor *src;
    float *region;
    size_t nbytes;
    int loaded;
} lazy;

typedef struct owner {
    sdc_gguf *gguf;
    lazy *lazies;
    size_t lazy_count;
    sdc_st_entry *entries; /* handed to sdc_safetensors_wrap, which copies them */
} owner;

static void owner_release(void *p)
{
    owner *o = p;
    for (size_t i = 0; i < o->lazy_count; i++)
        if (o->lazies[i].region)
            munmap(o->lazies[i].region, o->lazies[i].nbytes);
    free(o->lazies);
    free(o->entries);
    sdc_gguf_close(o->gguf);
    free(o);
}

static sdc_status owner_load(void *p, const void *data, size_t nbytes)
{
    owner *o = p;
    uintptr_t at = (uintptr_t)data;
    for (size_t i = 0; i < o->lazy_count; i++) {
        lazy *l = &o->lazies[i];
        /* addresses as integers: an empty tensor has no region, and NULL + 0 is undefined */
        uintptr_t r = (uintptr_t)l->region;
        if (l->loaded || !r || at < r || at - r >= l->nbytes || nbytes > l->nbytes - (at - r))
            continue;
        sdc_gguf_expand(l->src, l->region);
        l->loaded = 1;
    }
    return SDC_OK;
}

/* The sdc dtype a tensor of ggml type `type` is read in place as, or -1 (expanded). */
static int view_dtype(const sdc_gguf_tensor *t)
{
    int dt = t->type == SDC_QTYPE_F32    ? SDC_DTYPE_F32
             : t->type == SDC_QTYPE_F16  ? SDC_DTYPE_F16
             : t->type == SDC_QTYPE_BF16 ? SDC_DTYPE_BF16
                                         : -1;
    if (dt >= 0 && (uintptr_t)t->data % sdc_dtype_size((sdc_dtype)dt))
        return -1;
    return dt;
}

/* Reserves the f32 space of an expanded tensor (pages cost memory only once written). */
static sdc_status reserve(owner *o, const sdc_gguf_tensor *t, sdc_st_entry *e)
{
    lazy *l = &o->lazies[o->lazy_count];
    l->src = t;
    l->nbytes = (size_t)t->numel * sizeof(float);
    if (l->nbytes) {
        void *m = mmap(NULL, l->nbytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED)
            return sdc_fail(SDC_ERR_NOMEM, "%s: cannot reserve %zu bytes for tensor '%s'",
                            sdc_gguf_path(o->gguf), l->nbytes, t->name);
        l->region = m;
    }
    o->lazy_count++;
    e->tensor.data = l->region;
    e->tensor.dtype = SDC_DTYPE_F32;
    if (t->type != SDC_QTYPE_F32 && t->type != SDC_QTYPE_F16 && t->type != SDC_QTYPE_BF16) {
        e->tensor.quant = sdc_qtype_get(t->type);
        e->tensor.blocks = t->data;
    }
    e->nbytes = l->nbytes;
    return SDC_OK;
}

static sdc_status add_entry(owner *o, const sdc_gguf_tensor *t, sdc_st_entry *e)
{
    e->name = t->name;
    e->tensor.ndim = t->ndim;
    for (int i = 0; i < t->ndim; i++)
        e->tensor.shape[i] = t->ne[t->ndim - 1 - i];
    int dt = view_dtype(t);
    if (dt < 0)
        return reserve(o, t, e);
    e->tensor.dtype = (sdc_dtype)dt;
    e->tensor.data = (void *)t->data; /* read-only mapping; sdc_tensor's data is not const */
    e->nbytes = t->nbytes;
    return SDC_OK;
}

sdc_status sdc_gguf_open_table(const char *path, sdc_safetensors **out)
{
    *out = NULL;
    owner *o = calloc(1, sizeof *o);
    if (!o)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    sdc_status s = sdc_gguf_open(path, &o->gguf);
    size_t n = s == SDC_OK ? sdc_gguf_count(o->gguf) : 0;
    if (s == SDC_OK) {
        o->entries = calloc(n ? n : 1, sizeof *o->entries);
        o->lazies = calloc(n ? n : 1, sizeof *o->lazies);
        if (!o->entries || !o->lazies)
            s = sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; s == SDC_OK && i < n; i++)
        s = add_entry(o, sdc_gguf_tensor_at(o->gguf, i), &o->entries[i]);
    if (s != SDC_OK) {
        owner_release(o);
        return s;
    }
    s = sdc_safetensors_wrap(path, sdc_gguf_file_size(o->gguf), o->entries, n, owner_release,
                             o, out);
    if (s == SDC_OK) {
        sdc_safetensors_set_loader(*out, owner_load);
        /* lets a finished stage drop its pages; the expanded tensors lie outside it */
        sdc_safetensors_set_mapping(*out, sdc_gguf_map(o->gguf), sdc_gguf_file_size(o->gguf));
    }
    return s;
}
