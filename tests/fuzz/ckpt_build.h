/* Builds PyTorch-style checkpoints byte by byte, for tests and seed corpora: a pickle
 * assembled opcode by opcode (what torch.save's pickler emits for a state dict) and a zip
 * written with libzip. No Python involved. */
#ifndef SDC_TESTS_FUZZ_CKPT_BUILD_H
#define SDC_TESTS_FUZZ_CKPT_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "ops/dtype.h"

typedef struct ckb_pickle {
    uint8_t *data;
    size_t len, capacity;
} ckb_pickle;

void ckb_free(ckb_pickle *p);
void ckb_bytes(ckb_pickle *p, const void *data, size_t n);
void ckb_op(ckb_pickle *p, uint8_t op);
void ckb_u32(ckb_pickle *p, uint32_t v);
/* BINUNICODE */
void ckb_str(ckb_pickle *p, const char *s);
/* BININT, or LONG1 when it does not fit 32 bits */
void ckb_int(ckb_pickle *p, int64_t v);
/* GLOBAL module\nname\n */
void ckb_global(ckb_pickle *p, const char *module, const char *name);
/* collections.OrderedDict() */
void ckb_ordered_dict(ckb_pickle *p);
/* torch._utils._rebuild_tensor_v2(('storage', torch.<cls>, key, 'cpu', numel), offset, shape,
 * stride, False, OrderedDict()); stride NULL = contiguous. */
void ckb_tensor(ckb_pickle *p, const char *storage_class, const char *key, int64_t numel,
                int64_t offset, int ndim, const int64_t *shape, const int64_t *stride);
/* torch.<X>Storage for a dtype ("FloatStorage", ...). */
const char *ckb_storage_class(sdc_dtype dtype);

typedef struct ckb_member {
    const char *name; /* without the folder */
    const void *data;
    size_t size;
    int deflate;      /* compress instead of store */
} ckb_member;

/* Writes folder/data.pkl (the pickle), folder/byteorder ("little") and the members, stored
 * uncompressed unless asked. Returns 0 on success. */
int ckb_write_zip(const char *path, const char *folder, const ckb_pickle *pickle,
                  const ckb_member *members, size_t count);

#endif
