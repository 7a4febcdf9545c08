/* Internals shared by the pickle machine (pickle.c) and the interpretation of the globals
 * it accepts (pickle_globals.c). */
#ifndef SDC_WEIGHTS_PICKLE_IMPL_H
#define SDC_WEIGHTS_PICKLE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "weights/pickle.h"

typedef enum sdc_pk_global_kind {
    SDC_PKG_ORDERED_DICT,
    SDC_PKG_REBUILD_TENSOR,    /* torch._utils._rebuild_tensor_v2 */
    SDC_PKG_REBUILD_PARAMETER, /* torch._utils._rebuild_parameter(_with_state) */
    SDC_PKG_STORAGE,           /* torch.FloatStorage, ... */
    SDC_PKG_INERT,             /* accepted, becomes an opaque value */
} sdc_pk_global_kind;

struct sdc_pk_global {
    const char *module, *name;
    sdc_pk_global_kind kind;
    sdc_dtype dtype; /* SDC_PKG_STORAGE */
};

/* The machine's state while loading. */
typedef struct sdc_pk_vm {
    sdc_pickle *pk;
    const char *origin;
    const uint8_t *start, *p, *end;
    size_t op_at; /* offset of the opcode being run, for messages */
    sdc_pk_value **stack;
    size_t depth, stack_capacity;
    size_t *marks; /* stack depths saved by MARK */
    size_t mark_count, mark_capacity;
    sdc_pk_value **memo;
    size_t memo_count, memo_capacity;
    sdc_status alloc_status; /* why the last arena allocation failed */
} sdc_pk_vm;

/* Fails with "origin: pickle byte N: <message>". */
sdc_status sdc_pk_error(const sdc_pk_vm *vm, sdc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A zeroed value of `kind` from the pickle's arena; NULL past the memory cap or when out of
 * memory (message set, status in vm->alloc_status). */
sdc_pk_value *sdc_pk_new(sdc_pk_vm *vm, sdc_pk_kind kind);
/* Appends to a TUPLE / LIST / DICT's item array. */
sdc_status sdc_pk_seq_push(sdc_pk_vm *vm, sdc_pk_value *seq, sdc_pk_value *item);

/* --- pickle_globals.c --- */
/* The accepted global module.name, or NULL. */
const sdc_pk_global *sdc_pk_global_find(const char *module, const char *name);
/* REDUCE: callable(*args). */
sdc_status sdc_pk_reduce(sdc_pk_vm *vm, const sdc_pk_value *callable, const sdc_pk_value *args,
                         sdc_pk_value **out);
/* NEWOBJ / NEWOBJ_EX: cls.__new__(cls, *args). */
sdc_status sdc_pk_new_object(sdc_pk_vm *vm, const sdc_pk_value *cls, sdc_pk_value **out);
/* BUILD: obj.__setstate__(state); accepted (and ignored) on dicts and opaque values. */
sdc_status sdc_pk_build(sdc_pk_vm *vm, const sdc_pk_value *obj);
/* BINPERSID: torch's storage reference. */
sdc_status sdc_pk_persistent(sdc_pk_vm *vm, const sdc_pk_value *pid, sdc_pk_value **out);

#endif
