/* The globals a PyTorch state dict needs, and what "calling" them means to sdc. Nothing is
 * ever imported or run: a call of an accepted global is decoded into a value here, with its
 * arguments checked (a tensor must lie inside its storage). Inert globals are ones seen in
 * training checkpoints beside the weights (Lightning callbacks, numpy scalars, torch dtypes:
 * the set AUTOMATIC1111's restricted loader found SD checkpoints need); they become opaque
 * values that sdc never looks into. */
#include <stdio.h>
#include <string.h>

#include "weights/pickle_impl.h"

static const sdc_pk_global globals[] = {
    {"collections", "OrderedDict", SDC_PKG_ORDERED_DICT, SDC_DTYPE_F32},
    {"torch._utils", "_rebuild_tensor_v2", SDC_PKG_REBUILD_TENSOR, SDC_DTYPE_F32},
    {"torch._utils", "_rebuild_parameter", SDC_PKG_REBUILD_PARAMETER, SDC_DTYPE_F32},
    {"torch._utils", "_rebuild_parameter_with_state", SDC_PKG_REBUILD_PARAMETER, SDC_DTYPE_F32},
    {"torch", "FloatStorage", SDC_PKG_STORAGE, SDC_DTYPE_F32},
    {"torch", "HalfStorage", SDC_PKG_STORAGE, SDC_DTYPE_F16},
    {"torch", "BFloat16Storage", SDC_PKG_STORAGE, SDC_DTYPE_BF16},
    {"torch", "DoubleStorage", SDC_PKG_STORAGE, SDC_DTYPE_F64},
    {"torch", "LongStorage", SDC_PKG_STORAGE, SDC_DTYPE_I64},
    {"torch", "IntStorage", SDC_PKG_STORAGE, SDC_DTYPE_I32},
    {"torch", "ShortStorage", SDC_PKG_STORAGE, SDC_DTYPE_I16},
    {"torch", "CharStorage", SDC_PKG_STORAGE, SDC_DTYPE_I8},
    {"torch", "ByteStorage", SDC_PKG_STORAGE, SDC_DTYPE_U8},
    {"torch", "BoolStorage", SDC_PKG_STORAGE, SDC_DTYPE_BOOL},
    {"numpy.core.multiarray", "scalar", SDC_PKG_INERT, SDC_DTYPE_F32},
    {"numpy.core.multiarray", "_reconstruct", SDC_PKG_INERT, SDC_DTYPE_F32},
    {"numpy", "ndarray", SDC_PKG_INERT, SDC_DTYPE_F32},
    {"numpy", "dtype", SDC_PKG_INERT, SDC_DTYPE_F32},
    {"_codecs", "encode", SDC_PKG_INERT, SDC_DTYPE_F32},
    {"builtins", "set", SDC_PKG_INERT, SDC_DTYPE_F32},
    {"__builtin__", "set", SDC_PKG_INERT, SDC_DTYPE_F32},
    {"pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint", SDC_PKG_INERT,
     SDC_DTYPE_F32},
    {"torch.nn.modules.container", "ParameterDict", SDC_PKG_INERT, SDC_DTYPE_F32},
    {"torch", "float32", SDC_PKG_INERT, SDC_DTYPE_F32},
    {"torch", "float16", SDC_PKG_INERT, SDC_DTYPE_F32},
    {"torch", "bfloat16", SDC_PKG_INERT, SDC_DTYPE_F32},
};

enum { MAX_STORAGE_KEY = 64 };

const sdc_pk_global *sdc_pk_global_find(const char *module, const char *name)
{
    for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++)
        if (strcmp(globals[i].module, module) == 0 && strcmp(globals[i].name, name) == 0)
            return &globals[i];
    return NULL;
}

/* What a value is, for messages: "global 'torch.FloatStorage'" or its kind. */
static const char *describe(const sdc_pk_value *v, char *buf, size_t cap)
{
    if (v->kind != SDC_PK_GLOBAL)
        return sdc_pk_kind_name(v->kind);
    snprintf(buf, cap, "global '%s.%s'", v->as.global->module, v->as.global->name);
    return buf;
}

static const sdc_pk_value *item(const sdc_pk_value *tuple, size_t i)
{
    return tuple->as.seq.items[i];
}

static int is_int(const sdc_pk_value *v) { return v->kind == SDC_PK_INT; }

/* size / stride tuple -> dims[]; every entry a non-negative int. */
static int read_dims(const sdc_pk_value *tuple, int64_t *dims, size_t *ndim)
{
    if (tuple->kind != SDC_PK_TUPLE || tuple->as.seq.count > SDC_MAX_DIMS)
        return 0;
    for (size_t i = 0; i < tuple->as.seq.count; i++) {
        if (!is_int(item(tuple, i)) || item(tuple, i)->as.integer < 0)
            return 0;
        dims[i] = item(tuple, i)->as.integer;
    }
    *ndim = tuple->as.seq.count;
    return 1;
}

/* Every element of the view must lie in [0, numel) of the storage. */
static int inside_storage(const sdc_pk_tensor *t)
{
    int64_t last = t->offset;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] == 0)
            return t->offset <= t->storage->numel;
    for (int d = 0; d < t->ndim; d++) {
        int64_t span = t->shape[d] - 1;
        if (span && t->stride[d] > (INT64_MAX - last) / span)
            return 0;
        last += span * t->stride[d];
    }
    return last < t->storage->numel;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
 * [, metadata]) */
static sdc_status rebuild_tensor(sdc_pk_vm *vm, const sdc_pk_value *args, sdc_pk_value **out)
{
    size_t n = args->as.seq.count, ndim = 0, nstride = 0;
    sdc_pk_value *v = sdc_pk_new(vm, SDC_PK_TENSOR);
    if (!v)
        return vm->alloc_status;
    sdc_pk_tensor *t = &v->as.tensor;
    int ok = (n == 6 || n == 7) && item(args, 0)->kind == SDC_PK_STORAGE &&
             is_int(item(args, 1)) && item(args, 1)->as.integer >= 0 &&
             read_dims(item(args, 2), t->shape, &ndim) &&
             read_dims(item(args, 3), t->stride, &nstride) && ndim == nstride &&
             (item(args, 4)->kind == SDC_PK_BOOL || is_int(item(args, 4))) &&
             item(args, 5)->kind == SDC_PK_DICT;
    if (!ok)
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "_rebuild_tensor_v2 needs (storage, offset, "
                            "size, stride, requires_grad, hooks) with at most %d "
                            "non-negative dimensions", SDC_MAX_DIMS);
    t->storage = &item(args, 0)->as.storage;
    t->offset = item(args, 1)->as.integer;
    t->ndim = (int)ndim;
    if (!inside_storage(t))
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "tensor view reaches past the %lld elements "
                            "of storage '%s'", (long long)t->storage->numel, t->storage->key);
    *out = v;
    return SDC_OK;
}

sdc_status sdc_pk_reduce(sdc_pk_vm *vm, const sdc_pk_value *callable, const sdc_pk_value *args,
                         sdc_pk_value **out)
{
    char buf[600];
    if (callable->kind != SDC_PK_GLOBAL)
        return sdc_pk_error(vm, SDC_ERR_UNSUPPORTED, "REDUCE calls a %s, not an accepted "
                            "function", describe(callable, buf, sizeof buf));
    if (args->kind != SDC_PK_TUPLE)
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "REDUCE arguments are a %s, not a tuple",
                            sdc_pk_kind_name(args->kind));
    size_t n = args->as.seq.count;
    switch (callable->as.global->kind) {
    case SDC_PKG_ORDERED_DICT:
        if (n != 0)
            return sdc_pk_error(vm, SDC_ERR_UNSUPPORTED, "OrderedDict called with arguments");
        *out = sdc_pk_new(vm, SDC_PK_DICT);
        return *out ? SDC_OK : vm->alloc_status;
    case SDC_PKG_REBUILD_TENSOR:
        return rebuild_tensor(vm, args, out);
    case SDC_PKG_REBUILD_PARAMETER:
        if ((n != 3 && n != 4) || item(args, 0)->kind != SDC_PK_TENSOR)
            return sdc_pk_error(vm, SDC_ERR_FORMAT, "_rebuild_parameter needs (tensor, "
                                "requires_grad, hooks[, state])");
        *out = args->as.seq.items[0];
        return SDC_OK;
    case SDC_PKG_INERT:
        *out = sdc_pk_new(vm, SDC_PK_OPAQUE);
        return *out ? SDC_OK : vm->alloc_status;
    default:
        return sdc_pk_error(vm, SDC_ERR_UNSUPPORTED, "REDUCE calls %s, which is not callable "
                            "here", describe(callable, buf, sizeof buf));
    }
}

sdc_status sdc_pk_new_object(sdc_pk_vm *vm, const sdc_pk_value *cls, sdc_pk_value **out)
{
    char buf[600];
    sdc_pk_kind kind = SDC_PK_KIND_COUNT;
    if (cls->kind == SDC_PK_GLOBAL && cls->as.global->kind == SDC_PKG_INERT)
        kind = SDC_PK_OPAQUE;
    else if (cls->kind == SDC_PK_GLOBAL && cls->as.global->kind == SDC_PKG_ORDERED_DICT)
        kind = SDC_PK_DICT;
    if (kind == SDC_PK_KIND_COUNT)
        return sdc_pk_error(vm, SDC_ERR_UNSUPPORTED, "NEWOBJ of %s is not accepted",
                            describe(cls, buf, sizeof buf));
    *out = sdc_pk_new(vm, kind);
    return *out ? SDC_OK : vm->alloc_status;
}

sdc_status sdc_pk_build(sdc_pk_vm *vm, const sdc_pk_value *obj)
{
    /* OrderedDict state dicts carry a _metadata attribute; sdc has no use for it */
    if (obj->kind == SDC_PK_DICT || obj->kind == SDC_PK_OPAQUE)
        return SDC_OK;
    return sdc_pk_error(vm, SDC_ERR_UNSUPPORTED, "BUILD (setting the state) of a %s is not "
                        "accepted", sdc_pk_kind_name(obj->kind));
}

static int valid_key(const sdc_pk_value *v)
{
    if (v->kind != SDC_PK_STRING || v->as.str.len == 0 || v->as.str.len > MAX_STORAGE_KEY)
        return 0;
    for (size_t i = 0; i < v->as.str.len; i++) {
        char c = v->as.str.data[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* ('storage', torch.XStorage, key, location, numel) */
sdc_status sdc_pk_persistent(sdc_pk_vm *vm, const sdc_pk_value *pid, sdc_pk_value **out)
{
    int ok = pid->kind == SDC_PK_TUPLE && pid->as.seq.count == 5 &&
             item(pid, 0)->kind == SDC_PK_STRING && strcmp(item(pid, 0)->as.str.data,
                                                           "storage") == 0 &&
             item(pid, 1)->kind == SDC_PK_GLOBAL &&
             item(pid, 1)->as.global->kind == SDC_PKG_STORAGE && valid_key(item(pid, 2)) &&
             item(pid, 3)->kind == SDC_PK_STRING && is_int(item(pid, 4)) &&
             item(pid, 4)->as.integer >= 0 && item(pid, 4)->as.integer <= INT64_MAX / 8;
    if (!ok)
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "persistent id is not ('storage', "
                            "torch.<Type>Storage, key, location, numel)");
    sdc_pk_value *v = sdc_pk_new(vm, SDC_PK_STORAGE);
    if (!v)
        return vm->alloc_status;
    v->as.storage.dtype = item(pid, 1)->as.global->dtype;
    v->as.storage.key = item(pid, 2)->as.str.data;
    v->as.storage.numel = item(pid, 4)->as.integer;
    *out = v;
    return SDC_OK;
}
