#include "tests/fuzz/ckpt_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

void ckb_free(ckb_pickle *p)
{
    free(p->data);
    memset(p, 0, sizeof *p);
}

void ckb_bytes(ckb_pickle *p, const void *data, size_t n)
{
    if (p->len + n > p->capacity) {
        size_t cap = p->capacity ? p->capacity : 256;
        while (cap < p->len + n)
            cap *= 2;
        uint8_t *grown = realloc(p->data, cap);
        if (!grown)
            abort(); /* test support: out of memory ends the test */
        p->data = grown;
        p->capacity = cap;
    }
    memcpy(p->data + p->len, data, n);
    p->len += n;
}

void ckb_op(ckb_pickle *p, uint8_t op) { ckb_bytes(p, &op, 1); }

void ckb_u32(ckb_pickle *p, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    ckb_bytes(p, b, 4);
}

void ckb_str(ckb_pickle *p, const char *s)
{
    ckb_op(p, 'X');
    ckb_u32(p, (uint32_t)strlen(s));
    ckb_bytes(p, s, strlen(s));
}

void ckb_int(ckb_pickle *p, int64_t v)
{
    if (v >= INT32_MIN && v <= INT32_MAX) {
        ckb_op(p, 'J');
        ckb_u32(p, (uint32_t)(int32_t)v);
        return;
    }
    ckb_op(p, 0x8a); /* LONG1 */
    ckb_op(p, 8);
    for (int i = 0; i < 8; i++)
        ckb_op(p, (uint8_t)((uint64_t)v >> (8 * i)));
}

void ckb_global(ckb_pickle *p, const char *module, const char *name)
{
    ckb_op(p, 'c');
    ckb_bytes(p, module, strlen(module));
    ckb_op(p, '\n');
    ckb_bytes(p, name, strlen(name));
    ckb_op(p, '\n');
}

void ckb_ordered_dict(ckb_pickle *p)
{
    ckb_global(p, "collections", "OrderedDict");
    ckb_op(p, ')');
    ckb_op(p, 'R');
}

static void int_tuple(ckb_pickle *p, int n, const int64_t *v)
{
    ckb_op(p, '(');
    for (int i = 0; i < n; i++)
        ckb_int(p, v[i]);
    ckb_op(p, 't');
}

void ckb_tensor(ckb_pickle *p, const char *storage_class, const char *key, int64_t numel,
                int64_t offset, int ndim, const int64_t *shape, const int64_t *stride)
{
    int64_t contiguous[8];
    uint64_t step = 1; /* wraps for the huge shapes tests declare */
    for (int d = ndim - 1; d >= 0 && d < 8; d--) {
        contiguous[d] = (int64_t)(step & INT64_MAX);
        step *= (uint64_t)shape[d];
    }
    ckb_global(p, "torch._utils", "_rebuild_tensor_v2");
    ckb_op(p, '(');
    ckb_op(p, '(');
    ckb_str(p, "storage");
    ckb_global(p, "torch", storage_class);
    ckb_str(p, key);
    ckb_str(p, "cpu");
    ckb_int(p, numel);
    ckb_op(p, 't');
    ckb_op(p, 'Q'); /* BINPERSID */
    ckb_int(p, offset);
    int_tuple(p, ndim, shape);
    int_tuple(p, ndim, stride ? stride : contiguous);
    ckb_op(p, 0x89); /* False */
    ckb_ordered_dict(p);
    ckb_op(p, 't');
    ckb_op(p, 'R');
}

const char *ckb_storage_class(sdc_dtype dtype)
{
    switch (dtype) {
    case SDC_DTYPE_F32: return "FloatStorage";
    case SDC_DTYPE_F16: return "HalfStorage";
    case SDC_DTYPE_BF16: return "BFloat16Storage";
    case SDC_DTYPE_F64: return "DoubleStorage";
    case SDC_DTYPE_I64: return "LongStorage";
    case SDC_DTYPE_I32: return "IntStorage";
    case SDC_DTYPE_I16: return "ShortStorage";
    case SDC_DTYPE_I8: return "CharStorage";
    case SDC_DTYPE_U8: return "ByteStorage";
    default: return "BoolStorage";
    }
}

static int add(zip_t *z, const char *folder, const char *name, const void *data, size_t size,
               int deflate)
{
    char full[512];
    snprintf(full, sizeof full, "%s/%s", folder, name);
    zip_source_t *src = zip_source_buffer(z, data, size, 0);
    zip_int64_t i = src ? zip_file_add(z, full, src, ZIP_FL_OVERWRITE) : -1;
    if (i < 0) {
        zip_source_free(src);
        return -1;
    }
    return zip_set_file_compression(z, (zip_uint64_t)i, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                                    0);
}

int ckb_write_zip(const char *path, const char *folder, const ckb_pickle *pickle,
                  const ckb_member *members, size_t count)
{
    int err;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!z)
        return -1;
    int r = add(z, folder, "data.pkl", pickle->data, pickle->len, 0);
    if (r == 0)
        r = add(z, folder, "byteorder", "little", 6, 0);
    for (size_t i = 0; r == 0 && i < count; i++)
        r = add(z, folder, members[i].name, members[i].data, members[i].size,
                members[i].deflate);
    if (r != 0) {
        zip_discard(z);
        return -1;
    }
    if (zip_close(z) != 0) {
        zip_discard(z);
        return -1;
    }
    return 0;
}
