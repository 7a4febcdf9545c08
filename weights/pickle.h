/* A restricted reader for the pickles in PyTorch checkpoints (data.pkl). It decodes the
 * binary opcodes of protocols 2-5 into a graph of plain values and never imports, calls or
 * executes anything:
 *
 *   - a global (GLOBAL / STACK_GLOBAL) is accepted only when it is on the list in
 *     pickle_globals.c: collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 *     torch._utils._rebuild_parameter(_with_state), the torch.*Storage classes, and a few
 *     inert ones found in training checkpoints (numpy scalars, Lightning's ModelCheckpoint);
 *     any other one (os.system, builtins.eval, ...) is refused, by name, where it appears;
 *   - calls (REDUCE, NEWOBJ, BUILD) of accepted globals are interpreted, not run:
 *     _rebuild_tensor_v2(storage, offset, size, stride, ...) becomes a tensor record,
 *     OrderedDict() an empty dict, inert globals an opaque value;
 *   - persistent ids are accepted only in torch's storage form
 *     ('storage', torch.XStorage, key, location, numel).
 *
 * Resources: input of at most SDC_PICKLE_MAX_INPUT bytes, memory linear in it and capped
 * at SDC_PICKLE_MAX_MEMORY, time linear in it, no recursion. Memo indices must be assigned
 * in order (as every pickler does), so an index cannot make the memo huge. */
#ifndef SDC_WEIGHTS_PICKLE_H
#define SDC_WEIGHTS_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "ops/tensor.h"
#include "sdc.h"

#define SDC_PICKLE_MAX_INPUT (64u << 20)
#define SDC_PICKLE_MAX_MEMORY ((size_t)1 << 30)

typedef enum sdc_pk_kind {
    SDC_PK_NONE,
    SDC_PK_BOOL,
    SDC_PK_INT,
    SDC_PK_FLOAT,
    SDC_PK_STRING,  /* valid UTF-8 */
    SDC_PK_BYTES,
    SDC_PK_TUPLE,
    SDC_PK_LIST,    /* also sets and frozensets */
    SDC_PK_DICT,    /* dict and OrderedDict */
    SDC_PK_GLOBAL,  /* an accepted global, not yet called */
    SDC_PK_STORAGE, /* a persistent storage reference */
    SDC_PK_TENSOR,
    SDC_PK_OPAQUE,  /* the result of an inert global; carries nothing */
    SDC_PK_KIND_COUNT
} sdc_pk_kind;

typedef struct sdc_pk_value sdc_pk_value;
typedef struct sdc_pk_global sdc_pk_global;

typedef struct sdc_pk_storage {
    sdc_dtype dtype;
    const char *key; /* names the zip member data/<key>: [0-9A-Za-z_], 1..64 characters */
    int64_t numel;   /* elements of dtype */
} sdc_pk_storage;

/* A view of a storage: element i of the view is storage[offset + sum(idx_d * stride_d)].
 * The reader checks that every element lies inside the storage's numel. */
typedef struct sdc_pk_tensor {
    const sdc_pk_storage *storage;
    int64_t offset;
    int ndim;
    int64_t shape[SDC_MAX_DIMS];
    int64_t stride[SDC_MAX_DIMS];
} sdc_pk_tensor;

struct sdc_pk_value {
    sdc_pk_kind kind;
    union {
        int64_t integer; /* BOOL, INT */
        double real;     /* FLOAT */
        struct {
            const char *data; /* NUL-terminated */
            size_t len;
        } str;           /* STRING, BYTES */
        struct {
            sdc_pk_value **items; /* DICT: key, value, key, value, ... in insertion order */
            size_t count, capacity;
        } seq;           /* TUPLE, LIST, DICT */
        const sdc_pk_global *global;
        sdc_pk_storage storage;
        sdc_pk_tensor tensor;
    } as;
};

typedef struct sdc_pickle sdc_pickle;

/* Reads the pickle in data[0, size); `origin` names it in messages ("x.ckpt:archive/data.pkl").
 * All values live until sdc_pickle_free. */
sdc_status sdc_pickle_load(const void *data, size_t size, const char *origin, sdc_pickle **out);
void sdc_pickle_free(sdc_pickle *pk);
const sdc_pk_value *sdc_pickle_root(const sdc_pickle *pk);

/* The value of a dict's string key (the last one set, as Python keeps), or NULL. */
const sdc_pk_value *sdc_pk_dict_get(const sdc_pk_value *dict, const char *key);
/* "int", "dict", "tensor", ... */
const char *sdc_pk_kind_name(sdc_pk_kind kind);

#endif
