/* The pickle machine: one handler per accepted opcode, a value stack with MARK fences like
 * CPython's unpickler, an in-order memo, and an arena owning every value. Opcodes that
 * import or call (GLOBAL, REDUCE, NEWOBJ, BUILD, BINPERSID) hand over to pickle_globals.c;
 * opcodes not listed in `handlers` (protocol 0 text forms, INST, EXT*, out-of-band buffers)
 * are refused. */
#include "weights/pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "weights/pickle_impl.h"

enum { ARENA_BLOCK = 64 << 10, MAX_GLOBAL_PART = 256 };

typedef struct arena_block {
    struct arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} arena_block;

struct sdc_pickle {
    arena_block *blocks;
    size_t total;
    const sdc_pk_value *root;
};

/* ---- errors, arena, values ------------------------------------------------------------ */

sdc_status sdc_pk_error(const sdc_pk_vm *vm, sdc_status status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sdc_fail(status, "%s: pickle byte %zu: %s", vm->origin, vm->op_at, msg);
}

static void *arena_alloc(sdc_pk_vm *vm, size_t n)
{
    sdc_pickle *pk = vm->pk;
    n = (n + 15) & ~(size_t)15;
    arena_block *b = pk->blocks;
    if (!b || b->size - b->used < n) {
        size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        if (size > SDC_PICKLE_MAX_MEMORY - pk->total) {
            vm->alloc_status = sdc_pk_error(vm, SDC_ERR_FORMAT, "the pickle needs more than "
                                            "%zu MiB to read", SDC_PICKLE_MAX_MEMORY >> 20);
            return NULL;
        }
        b = malloc(sizeof *b + size);
        if (!b) {
            vm->alloc_status = sdc_pk_error(vm, SDC_ERR_NOMEM, "out of memory");
            return NULL;
        }
        b->next = pk->blocks;
        b->used = 0;
        b->size = size;
        pk->blocks = b;
        pk->total += size;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

sdc_pk_value *sdc_pk_new(sdc_pk_vm *vm, sdc_pk_kind kind)
{
    sdc_pk_value *v = arena_alloc(vm, sizeof *v);
    if (v)
        v->kind = kind;
    return v;
}

sdc_status sdc_pk_seq_push(sdc_pk_vm *vm, sdc_pk_value *seq, sdc_pk_value *item)
{
    if (seq->as.seq.count == seq->as.seq.capacity) {
        size_t cap = seq->as.seq.capacity ? 2 * seq->as.seq.capacity : 8;
        sdc_pk_value **grown = arena_alloc(vm, cap * sizeof *grown);
        if (!grown)
            return vm->alloc_status;
        if (seq->as.seq.count)
            memcpy(grown, seq->as.seq.items, seq->as.seq.count * sizeof *grown);
        seq->as.seq.items = grown;
        seq->as.seq.capacity = cap;
    }
    seq->as.seq.items[seq->as.seq.count++] = item;
    return SDC_OK;
}

/* ---- input ---------------------------------------------------------------------------- */

static sdc_status take(sdc_pk_vm *vm, uint64_t n, const uint8_t **out)
{
    if ((uint64_t)(vm->end - vm->p) < n)
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "truncated (an operand needs %llu more bytes "
                            "than the pickle has)", (unsigned long long)n);
    *out = vm->p;
    vm->p += n;
    return SDC_OK;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static sdc_status take_le(sdc_pk_vm *vm, int n, uint64_t *v)
{
    const uint8_t *p = NULL;
    sdc_status s = take(vm, (uint64_t)n, &p);
    if (s == SDC_OK)
        *v = le(p, n);
    return s;
}

/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
static int valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        int len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || n - i < (size_t)len)
            return 0;
        uint32_t cp = len == 1 ? c : c & (0x7f >> len);
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += (size_t)len;
    }
    return 1;
}

/* ---- stack ---------------------------------------------------------------------------- */

static size_t fence(const sdc_pk_vm *vm)
{
    return vm->mark_count ? vm->marks[vm->mark_count - 1] : 0;
}

static sdc_status push(sdc_pk_vm *vm, sdc_pk_value *v)
{
    if (!v)
        return vm->alloc_status; /* the allocation set the message */
    if (vm->depth == vm->stack_capacity) {
        size_t cap = vm->stack_capacity ? 2 * vm->stack_capacity : 64;
        sdc_pk_value **grown = realloc(vm->stack, cap * sizeof *grown);
        if (!grown)
            return sdc_pk_error(vm, SDC_ERR_NOMEM, "out of memory");
        vm->stack = grown;
        vm->stack_capacity = cap;
    }
    vm->stack[vm->depth++] = v;
    return SDC_OK;
}

static sdc_status pop(sdc_pk_vm *vm, sdc_pk_value **v)
{
    if (vm->depth <= fence(vm))
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "stack underflow");
    *v = vm->stack[--vm->depth];
    return SDC_OK;
}

static sdc_status peek(sdc_pk_vm *vm, sdc_pk_value **v)
{
    if (vm->depth <= fence(vm))
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "stack underflow");
    *v = vm->stack[vm->depth - 1];
    return SDC_OK;
}

/* Removes the last mark; the items pushed since are stack[*from, depth). */
static sdc_status pop_mark(sdc_pk_vm *vm, size_t *from)
{
    if (!vm->mark_count)
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "no MARK to pop to");
    *from = vm->marks[--vm->mark_count];
    return SDC_OK;
}

static sdc_status op_mark(sdc_pk_vm *vm, uint8_t op)
{
    (void)op;
    if (vm->mark_count == vm->mark_capacity) {
        size_t cap = vm->mark_capacity ? 2 * vm->mark_capacity : 16;
        size_t *grown = realloc(vm->marks, cap * sizeof *grown);
        if (!grown)
            return sdc_pk_error(vm, SDC_ERR_NOMEM, "out of memory");
        vm->marks = grown;
        vm->mark_capacity = cap;
    }
    vm->marks[vm->mark_count++] = vm->depth;
    return SDC_OK;
}

static sdc_status op_pop(sdc_pk_vm *vm, uint8_t op)
{
    sdc_pk_value *v = NULL;
    if (op == '0')
        return pop(vm, &v);
    size_t from = 0; /* POP_MARK */
    sdc_status s = pop_mark(vm, &from);
    if (s == SDC_OK)
        vm->depth = from;
    return s;
}

static sdc_status op_dup(sdc_pk_vm *vm, uint8_t op)
{
    (void)op;
    sdc_pk_value *v = NULL;
    sdc_status s = peek(vm, &v);
    return s == SDC_OK ? push(vm, v) : s;
}

static sdc_status op_proto(sdc_pk_vm *vm, uint8_t op)
{
    uint64_t v = 0;
    sdc_status s = take_le(vm, op == 0x80 ? 1 : 8, &v);
    if (s != SDC_OK)
        return s;
    if (op == 0x80 && v > 5)
        return sdc_pk_error(vm, SDC_ERR_UNSUPPORTED, "pickle protocol %llu (at most 5)",
                            (unsigned long long)v);
    if (op == 0x95 && v > (uint64_t)(vm->end - vm->p)) /* FRAME: only checked, not needed */
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "frame of %llu bytes runs past the end",
                            (unsigned long long)v);
    return SDC_OK;
}

/* ---- scalars and strings -------------------------------------------------------------- */

static sdc_status push_int(sdc_pk_vm *vm, sdc_pk_kind kind, int64_t v)
{
    sdc_pk_value *x = sdc_pk_new(vm, kind);
    if (x)
        x->as.integer = v;
    return push(vm, x);
}

static sdc_status op_constant(sdc_pk_vm *vm, uint8_t op)
{
    if (op == 'N')
        return push(vm, sdc_pk_new(vm, SDC_PK_NONE));
    return push_int(vm, SDC_PK_BOOL, op == 0x88);
}

static sdc_status op_binint(sdc_pk_vm *vm, uint8_t op)
{
    int n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
    uint64_t v = 0;
    sdc_status s = take_le(vm, n, &v);
    if (s != SDC_OK)
        return s;
    return push_int(vm, SDC_PK_INT, n == 4 ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v);
}

/* LONG1 / LONG4: little-endian two's complement of any width; sdc keeps 64 bits. */
static sdc_status op_long(sdc_pk_vm *vm, uint8_t op)
{
    uint64_t n = 0;
    const uint8_t *p = NULL;
    sdc_status s = take_le(vm, op == 0x8a ? 1 : 4, &n);
    if (s == SDC_OK && n > 8)
        s = sdc_pk_error(vm, SDC_ERR_UNSUPPORTED, "integer of %llu bytes (at most 8)",
                         (unsigned long long)n);
    if (s == SDC_OK)
        s = take(vm, n, &p);
    if (s != SDC_OK)
        return s;
    uint64_t v = n ? le(p, (int)n) : 0;
    if (n && n < 8 && (p[n - 1] & 0x80))
        v |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    return push_int(vm, SDC_PK_INT, (int64_t)v);
}

static sdc_status op_binfloat(sdc_pk_vm *vm, uint8_t op)
{
    (void)op;
    const uint8_t *p = NULL;
    sdc_status s = take(vm, 8, &p);
    if (s != SDC_OK)
        return s;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++) /* big-endian */
        bits = bits << 8 | p[i];
    sdc_pk_value *v = sdc_pk_new(vm, SDC_PK_FLOAT);
    if (v)
        memcpy(&v->as.real, &bits, sizeof bits);
    return push(vm, v);
}

/* Operand length width of each string opcode. */
static int length_width(uint8_t op)
{
    switch (op) {
    case 0x8c: case 'U': case 'C': return 1;
    case 'X': case 'T': case 'B': return 4;
    default: return 8; /* BINUNICODE8, BINBYTES8, BYTEARRAY8 */
    }
}

static sdc_status op_string(sdc_pk_vm *vm, uint8_t op)
{
    uint64_t n = 0;
    const uint8_t *p = NULL;
    sdc_status s = take_le(vm, length_width(op), &n);
    if (s == SDC_OK)
        s = take(vm, n, &p);
    if (s != SDC_OK)
        return s;
    int unicode = op == 'X' || op == 0x8c || op == 0x8d;
    if (unicode && !valid_utf8(p, (size_t)n))
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "string is not valid UTF-8");
    sdc_pk_value *v = sdc_pk_new(vm, unicode ? SDC_PK_STRING : SDC_PK_BYTES);
    char *copy = v ? arena_alloc(vm, (size_t)n + 1) : NULL;
    if (!copy)
        return vm->alloc_status;
    memcpy(copy, p, (size_t)n);
    v->as.str.data = copy;
    v->as.str.len = (size_t)n;
    return push(vm, v);
}

/* ---- containers ----------------------------------------------------------------------- */

static sdc_status op_empty(sdc_pk_vm *vm, uint8_t op)
{
    sdc_pk_kind kind = op == '}' ? SDC_PK_DICT : op == ')' ? SDC_PK_TUPLE : SDC_PK_LIST;
    return push(vm, sdc_pk_new(vm, kind));
}

/* TUPLE / LIST / FROZENSET / DICT from the items since the last mark. */
static sdc_status op_from_mark(sdc_pk_vm *vm, uint8_t op)
{
    size_t from = 0;
    sdc_status s = pop_mark(vm, &from);
    if (s != SDC_OK)
        return s;
    sdc_pk_kind kind = op == 't' ? SDC_PK_TUPLE : op == 'd' ? SDC_PK_DICT : SDC_PK_LIST;
    if (kind == SDC_PK_DICT && (vm->depth - from) % 2)
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "DICT with an odd number of items");
    sdc_pk_value *v = sdc_pk_new(vm, kind);
    if (!v)
        return vm->alloc_status;
    for (size_t i = from; i < vm->depth; i++)
        if ((s = sdc_pk_seq_push(vm, v, vm->stack[i])) != SDC_OK)
            return s;
    vm->depth = from;
    return push(vm, v);
}

static sdc_status op_tuple_n(sdc_pk_vm *vm, uint8_t op)
{
    size_t n = (size_t)(op - 0x84); /* TUPLE1..TUPLE3 */
    if (vm->depth < fence(vm) + n)
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "stack underflow");
    sdc_pk_value *v = sdc_pk_new(vm, SDC_PK_TUPLE);
    if (!v)
        return vm->alloc_status;
    for (size_t i = vm->depth - n; i < vm->depth; i++) {
        sdc_status s = sdc_pk_seq_push(vm, v, vm->stack[i]);
        if (s != SDC_OK)
            return s;
    }
    vm->depth -= n;
    return push(vm, v);
}

/* Adds stack[from, depth) to the list (APPEND(S), ADDITEMS) or dict (SETITEM(S)) just below
 * them; Python would call methods of anything else, so anything else is refused. */
static sdc_status add_items(sdc_pk_vm *vm, size_t from, int dict)
{
    if (from == 0 || from - 1 < fence(vm))
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "stack underflow");
    sdc_pk_value *target = vm->stack[from - 1];
    if (target->kind != (dict ? SDC_PK_DICT : SDC_PK_LIST))
        return sdc_pk_error(vm, SDC_ERR_UNSUPPORTED, "%s into a %s", dict ? "SETITEM" : "APPEND",
                            sdc_pk_kind_name(target->kind));
    if (dict && (vm->depth - from) % 2)
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "SETITEMS with an odd number of items");
    for (size_t i = from; i < vm->depth; i++) {
        sdc_status s = sdc_pk_seq_push(vm, target, vm->stack[i]);
        if (s != SDC_OK)
            return s;
    }
    vm->depth = from;
    return SDC_OK;
}

static sdc_status op_add(sdc_pk_vm *vm, uint8_t op)
{
    int dict = op == 's' || op == 'u';
    if (op == 'a' || op == 's') { /* APPEND, SETITEM: a fixed number of items */
        size_t n = dict ? 2 : 1;
        if (vm->depth < fence(vm) + n)
            return sdc_pk_error(vm, SDC_ERR_FORMAT, "stack underflow");
        return add_items(vm, vm->depth - n, dict);
    }
    size_t from = 0; /* APPENDS, SETITEMS, ADDITEMS */
    sdc_status s = pop_mark(vm, &from);
    return s == SDC_OK ? add_items(vm, from, dict) : s;
}

/* ---- memo ----------------------------------------------------------------------------- */

static sdc_status memo_put(sdc_pk_vm *vm, uint64_t index)
{
    sdc_pk_value *v = NULL;
    sdc_status s = peek(vm, &v);
    if (s != SDC_OK)
        return s;
    if (index > vm->memo_count) /* picklers number the memo 0, 1, 2, ... */
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "memo index %llu skips ahead of %zu",
                            (unsigned long long)index, vm->memo_count);
    if (index == vm->memo_count) {
        if (vm->memo_count == vm->memo_capacity) {
            size_t cap = vm->memo_capacity ? 2 * vm->memo_capacity : 64;
            sdc_pk_value **grown = realloc(vm->memo, cap * sizeof *grown);
            if (!grown)
                return sdc_pk_error(vm, SDC_ERR_NOMEM, "out of memory");
            vm->memo = grown;
            vm->memo_capacity = cap;
        }
        vm->memo_count++;
    }
    vm->memo[index] = v;
    return SDC_OK;
}

static sdc_status op_put(sdc_pk_vm *vm, uint8_t op)
{
    if (op == 0x94) /* MEMOIZE */
        return memo_put(vm, vm->memo_count);
    uint64_t index = 0;
    sdc_status s = take_le(vm, op == 'q' ? 1 : 4, &index);
    return s == SDC_OK ? memo_put(vm, index) : s;
}

static sdc_status op_get(sdc_pk_vm *vm, uint8_t op)
{
    uint64_t index = 0;
    sdc_status s = take_le(vm, op == 'h' ? 1 : 4, &index);
    if (s != SDC_OK)
        return s;
    if (index >= vm->memo_count)
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "memo index %llu was never set",
                            (unsigned long long)index);
    return push(vm, vm->memo[index]);
}

/* ---- globals, calls, persistent ids --------------------------------------------------- */

/* Copies for messages, non-printable bytes as '?'. */
static void printable(char *dst, size_t cap, const char *src, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        dst[k++] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
    dst[k] = '\0';
}

static sdc_status push_global(sdc_pk_vm *vm, const char *module, size_t mlen, const char *name,
                              size_t nlen)
{
    char m[MAX_GLOBAL_PART + 1], n[MAX_GLOBAL_PART + 1];
    if (mlen > MAX_GLOBAL_PART || nlen > MAX_GLOBAL_PART || memchr(module, 0, mlen) ||
        memchr(name, 0, nlen))
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "malformed global name");
    memcpy(m, module, mlen);
    m[mlen] = '\0';
    memcpy(n, name, nlen);
    n[nlen] = '\0';
    const sdc_pk_global *g = sdc_pk_global_find(m, n);
    if (!g) {
        char pm[MAX_GLOBAL_PART + 1], pn[MAX_GLOBAL_PART + 1];
        printable(pm, sizeof pm, m, mlen);
        printable(pn, sizeof pn, n, nlen);
        return sdc_pk_error(vm, SDC_ERR_UNSUPPORTED, "refused global '%s.%s': sdc reads only "
                            "tensors and plain data (the file may try to run code; do not "
                            "open it with torch.load)", pm, pn);
    }
    sdc_pk_value *v = sdc_pk_new(vm, SDC_PK_GLOBAL);
    if (v)
        v->as.global = g;
    return push(vm, v);
}

/* One '\n'-terminated line of a GLOBAL / INST operand. */
static sdc_status take_line(sdc_pk_vm *vm, const char **line, size_t *len)
{
    const uint8_t *nl = memchr(vm->p, '\n', (size_t)(vm->end - vm->p));
    if (!nl)
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "truncated global name");
    *line = (const char *)vm->p;
    *len = (size_t)(nl - vm->p);
    vm->p = nl + 1;
    return SDC_OK;
}

/* GLOBAL; also INST, which names a global and is refused after the global check. */
static sdc_status op_global(sdc_pk_vm *vm, uint8_t op)
{
    const char *module = NULL, *name = NULL;
    size_t mlen = 0, nlen = 0;
    sdc_status s = take_line(vm, &module, &mlen);
    if (s == SDC_OK)
        s = take_line(vm, &name, &nlen);
    if (s == SDC_OK)
        s = push_global(vm, module, mlen, name, nlen);
    if (s == SDC_OK && op == 'i')
        return sdc_pk_error(vm, SDC_ERR_UNSUPPORTED, "opcode INST (protocol 0) is not read");
    return s;
}

static sdc_status op_stack_global(sdc_pk_vm *vm, uint8_t op)
{
    (void)op;
    sdc_pk_value *module = NULL, *name = NULL;
    sdc_status s = pop(vm, &name);
    if (s == SDC_OK)
        s = pop(vm, &module);
    if (s != SDC_OK)
        return s;
    if (module->kind != SDC_PK_STRING || name->kind != SDC_PK_STRING)
        return sdc_pk_error(vm, SDC_ERR_FORMAT, "STACK_GLOBAL needs two strings");
    return push_global(vm, module->as.str.data, module->as.str.len, name->as.str.data,
                       name->as.str.len);
}

static sdc_status op_reduce(sdc_pk_vm *vm, uint8_t op)
{
    (void)op;
    sdc_pk_value *callable = NULL, *args = NULL, *out = NULL;
    sdc_status s = pop(vm, &args);
    if (s == SDC_OK)
        s = pop(vm, &callable);
    if (s == SDC_OK)
        s = sdc_pk_reduce(vm, callable, args, &out);
    return s == SDC_OK ? push(vm, out) : s;
}

static sdc_status op_newobj(sdc_pk_vm *vm, uint8_t op)
{
    sdc_pk_value *cls = NULL, *args = NULL, *kwargs = NULL, *out = NULL;
    sdc_status s = op == 0x92 ? pop(vm, &kwargs) : SDC_OK;
    if (s == SDC_OK)
        s = pop(vm, &args);
    if (s == SDC_OK)
        s = pop(vm, &cls);
    if (s == SDC_OK)
        s = sdc_pk_new_object(vm, cls, &out);
    return s == SDC_OK ? push(vm, out) : s;
}

static sdc_status op_build(sdc_pk_vm *vm, uint8_t op)
{
    (void)op;
    sdc_pk_value *state = NULL, *obj = NULL;
    sdc_status s = pop(vm, &state);
    if (s == SDC_OK)
        s = peek(vm, &obj);
    return s == SDC_OK ? sdc_pk_build(vm, obj) : s;
}

static sdc_status op_persid(sdc_pk_vm *vm, uint8_t op)
{
    (void)op;
    sdc_pk_value *pid = NULL, *out = NULL;
    sdc_status s = pop(vm, &pid);
    if (s == SDC_OK)
        s = sdc_pk_persistent(vm, pid, &out);
    return s == SDC_OK ? push(vm, out) : s;
}

/* ---- the machine ---------------------------------------------------------------------- */

typedef sdc_status (*op_handler)(sdc_pk_vm *vm, uint8_t op);

static const op_handler handlers[256] = {
    ['('] = op_mark, ['0'] = op_pop, ['1'] = op_pop, ['2'] = op_dup,
    [0x80] = op_proto, [0x95] = op_proto,
    ['N'] = op_constant, [0x88] = op_constant, [0x89] = op_constant,
    ['J'] = op_binint, ['K'] = op_binint, ['M'] = op_binint,
    [0x8a] = op_long, [0x8b] = op_long, ['G'] = op_binfloat,
    ['X'] = op_string, [0x8c] = op_string, [0x8d] = op_string, ['T'] = op_string,
    ['U'] = op_string, ['B'] = op_string, ['C'] = op_string, [0x8e] = op_string,
    [0x96] = op_string,
    ['}'] = op_empty, [')'] = op_empty, [']'] = op_empty, [0x8f] = op_empty,
    ['t'] = op_from_mark, ['l'] = op_from_mark, ['d'] = op_from_mark, [0x91] = op_from_mark,
    [0x85] = op_tuple_n, [0x86] = op_tuple_n, [0x87] = op_tuple_n,
    ['a'] = op_add, ['e'] = op_add, ['s'] = op_add, ['u'] = op_add, [0x90] = op_add,
    ['q'] = op_put, ['r'] = op_put, [0x94] = op_put, ['h'] = op_get, ['j'] = op_get,
    ['c'] = op_global, ['i'] = op_global, [0x93] = op_stack_global,
    ['R'] = op_reduce, [0x81] = op_newobj, [0x92] = op_newobj, ['b'] = op_build,
    ['Q'] = op_persid,
};

static sdc_status run(sdc_pk_vm *vm)
{
    while (vm->p < vm->end) {
        vm->op_at = (size_t)(vm->p - vm->start);
        uint8_t op = *vm->p++;
        if (op == '.') { /* STOP */
            sdc_pk_value *root = NULL;
            sdc_status s = pop(vm, &root);
            vm->pk->root = root;
            return s;
        }
        if (!handlers[op])
            return sdc_pk_error(vm, SDC_ERR_UNSUPPORTED, "opcode 0x%02x%s is not read", op,
                                op == 'P' ? " (text persistent id)" : "");
        sdc_status s = handlers[op](vm, op);
        if (s != SDC_OK)
            return s;
    }
    vm->op_at = (size_t)(vm->end - vm->start);
    return sdc_pk_error(vm, SDC_ERR_FORMAT, "truncated (no STOP opcode)");
}

sdc_status sdc_pickle_load(const void *data, size_t size, const char *origin, sdc_pickle **out)
{
    *out = NULL;
    if (size > SDC_PICKLE_MAX_INPUT)
        return sdc_fail(SDC_ERR_FORMAT, "%s: pickle of %zu bytes is larger than the %u allowed",
                        origin, size, SDC_PICKLE_MAX_INPUT);
    sdc_pickle *pk = calloc(1, sizeof *pk);
    if (!pk)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", origin);
    sdc_pk_vm vm = {.pk = pk, .origin = origin, .start = data, .p = data,
                    .end = (const uint8_t *)data + size};
    sdc_status s = run(&vm);
    free(vm.stack);
    free(vm.marks);
    free(vm.memo);
    if (s != SDC_OK) {
        sdc_pickle_free(pk);
        return s;
    }
    *out = pk;
    return SDC_OK;
}

void sdc_pickle_free(sdc_pickle *pk)
{
    if (!pk)
        return;
    while (pk->blocks) {
        arena_block *next = pk->blocks->next;
        free(pk->blocks);
        pk->blocks = next;
    }
    free(pk);
}

const sdc_pk_value *sdc_pickle_root(const sdc_pickle *pk) { return pk->root; }

const sdc_pk_value *sdc_pk_dict_get(const sdc_pk_value *dict, const char *key)
{
    if (!dict || dict->kind != SDC_PK_DICT)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = dict->as.seq.count; i >= 2; i -= 2) {
        const sdc_pk_value *k = dict->as.seq.items[i - 2];
        if (k->kind == SDC_PK_STRING && k->as.str.len == n && memcmp(k->as.str.data, key, n) == 0)
            return dict->as.seq.items[i - 1];
    }
    return NULL;
}

const char *sdc_pk_kind_name(sdc_pk_kind kind)
{
    static const char *const names[SDC_PK_KIND_COUNT] = {
        "None", "bool", "int", "float", "str", "bytes", "tuple", "list", "dict", "global",
        "storage", "tensor", "opaque object",
    };
    return (unsigned)kind < SDC_PK_KIND_COUNT ? names[kind] : "?";
}
