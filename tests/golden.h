/* Helpers shared by the Criterion tests: reading ../shared/golden, its tolerances, and
 * comparing tensors. Tolerances always come from golden/manifest.json, never from the test. */
#ifndef SDC_TESTS_GOLDEN_H
#define SDC_TESTS_GOLDEN_H

#include <jansson.h>
#include <stddef.h>

#include "weights/safetensors.h"

/* Directory of the golden data ($SDC_GOLDEN, set by meson test); skips the calling test
 * when it does not exist (a clone without ../shared/golden). */
const char *golden_dir(void);
/* OpenAI's CLIP vocabulary ($SDC_VOCAB, ../shared/clip); skips the test when missing. */
const char *vocab_path(void);
/* golden_dir() + "/" + rel, in a static buffer rotated among 4 calls. */
const char *golden_path(const char *rel);
/* $SDC_SOURCE_DIR + "/" + rel (a file of the project's tree), rotated the same way. */
const char *source_path(const char *rel);
/* Opens a golden safetensors file (fails the test when it cannot). Caller closes. */
sdc_safetensors *golden_open(const char *rel);
/* Entry `name` in `st` (fails the test when absent). */
const sdc_st_entry *golden_get(const sdc_safetensors *st, const char *name);
/* Copy of a float tensor (F32/F16/BF16/F64) as f32; caller frees. */
float *golden_f32(const sdc_st_entry *e);
/* Copy of an integer tensor (I64/I32) as int64; caller frees. */
long long *golden_i64(const sdc_st_entry *e);
/* The parsed manifest.json (owned by the helpers; Python's NaN / Infinity read as null). */
json_t *golden_manifest(void);
/* Golden data that no resolved issue covers yet. A test that walks a manifest skips these
 * with a line naming the issue that adds them (never fails on them, never drops them
 * silently); tests/test_golden_coverage.c checks every case kind is covered or listed here.
 * Returns "issue N (what)" or NULL when sdc covers it. */
const char *golden_pending_family(const char *family);
const char *golden_pending_kind(const char *set, const char *kind);
/* The family of model `model` in the main manifest. */
const char *golden_model_family(const char *model);
/* The manifest of a golden set: "" = the main one, else a subfolder ("lora", ...). The
 * caller owns the reference (json_decref). */
json_t *golden_set_manifest(const char *set);
/* tol_max_abs of tensor `name` in case `case_id` from the manifest; 0 for exact entries. */
double golden_tol(const char *case_id, const char *name);
/* The same for a case of golden set `set` ("" = the main one). */
double golden_set_tol(const char *set, const char *case_id, const char *name);
/* Largest |a - b| over n elements. */
double max_abs_diff(const float *a, const float *b, size_t n);
/* Expects max|actual - expected| <= tol, with a message naming `what`. Returns the max diff. */
double expect_close(const float *actual, const sdc_st_entry *expected, double tol,
                    const char *what);

#endif
