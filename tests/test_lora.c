/* LoRA / LyCORIS files applied to tiny-sd1 against ../shared/golden/lora (every `lora` case:
 * kohya LoRA and LoCon, LoHa, LoKr, Tucker LoCon, diffusers PEFT and old processor names):
 * the merged weights, the text encoder's and the UNet's outputs at the manifest's
 * tolerances; run-time adapters agree with merging; a multiplier of 0 and freeing the stack
 * leave the model exactly as loaded; malformed files get an error naming the file. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clip/text_encoder.h"
#include "lora/lora.h"
#include "lora/lora_impl.h"
#include "ops/dtype.h"
#include "pipeline/lora_run.h"
#include "tests/fuzz/ckpt_build.h"
#include "tests/golden.h"
#include "tests/st_write.h"
#include "unet/unet.h"
#include "weights/sha256.h"

typedef struct model {
    sdc_checkpoint *ck;
    sdc_unet *unet;
    sdc_text_encoder *te;
} model;

static model load_tiny(void)
{
    model m;
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sd1/model.safetensors"), &m.ck),
                 SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_unet_load(m.ck, &m.unet), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_text_encoder_load(m.ck, &m.te), SDC_OK, "%s", sdc_last_error());
    return m;
}

static void free_model(model *m)
{
    sdc_text_encoder_free(m->te);
    sdc_unet_free(m->unet);
    sdc_checkpoint_close(m->ck);
}

static sdc_lora_stack *stack_for(model *m, sdc_lora_mode mode)
{
    sdc_lora_stack *s;
    sdc_lora_targets t = {.te = sdc_text_encoder_layer_table(m->te),
                          .unet = sdc_unet_layers(m->unet)};
    cr_assert_eq(sdc_lora_stack_create(&t, mode, &s), SDC_OK);
    return s;
}

/* One golden case's inputs and the outputs of the model as it is now. */
typedef struct outputs {
    float *te;   /* [77 * 64], NULL when the case has no te.ids */
    float *unet; /* [4 * 16 * 16] */
} outputs;

static outputs run(model *m, sdc_safetensors *st)
{
    outputs o = {0};
    const sdc_st_entry *ids_e = sdc_safetensors_find(st, "te.ids");
    if (ids_e) {
        long long *ids64 = golden_i64(ids_e);
        int32_t ids[77];
        for (int i = 0; i < 77; i++)
            ids[i] = (int32_t)ids64[i];
        free(ids64);
        o.te = malloc(77 * 64 * sizeof *o.te);
        sdc_text_request req = {.layer = sdc_text_encoder_layers(m->te), .final_norm = 1,
                                .hidden = o.te};
        cr_assert_eq(sdc_text_encoder_forward(m->te, ids, 1, 77, &req, 1), SDC_OK, "%s",
                     sdc_last_error());
    }
    float *x = golden_f32(golden_get(st, "unet.x"));
    float *t = golden_f32(golden_get(st, "unet.t"));
    float *ctx = golden_f32(golden_get(st, "unet.context"));
    o.unet = malloc(4 * 16 * 16 * sizeof *o.unet);
    sdc_unet_cond c = {.context = ctx, .tokens = 77};
    cr_assert_eq(sdc_unet_forward(m->unet, x, 1, 16, 16, t[0], &c, o.unet), SDC_OK, "%s",
                 sdc_last_error());
    free(x), free(t), free(ctx);
    return o;
}

static void free_outputs(outputs *o)
{
    free(o->te);
    free(o->unet);
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* The layer of a "weights.<LDM tensor>" entry. */
static sdc_layer *layer_of(model *m, const char *entry)
{
    static const char unet[] = "weights.model.diffusion_model.";
    static const char te[] = "weights.cond_stage_model.transformer.";
    char name[300];
    sdc_layer_table *table;
    const char *rest;
    if (strncmp(entry, unet, sizeof unet - 1) == 0)
        table = sdc_unet_layers(m->unet), rest = entry + sizeof unet - 1;
    else if (strncmp(entry, te, sizeof te - 1) == 0)
        table = sdc_text_encoder_layer_table(m->te), rest = entry + sizeof te - 1;
    else
        return NULL;
    size_t len = strlen(rest);
    cr_assert(len > 7 && len < sizeof name);
    snprintf(name, sizeof name, "%.*s", (int)(len - 7), rest); /* without ".weight" */
    return sdc_layer_table_find(table, name);
}

/* Every weights.* sample equals the stack's merged f32 copy within its tolerance. */
static void expect_merged_weights(model *m, sdc_safetensors *st, const char *id)
{
    int seen = 0;
    for (size_t i = 0; i < sdc_safetensors_count(st); i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(st, i);
        if (strncmp(e->name, "weights.", 8) != 0)
            continue;
        sdc_layer *l = layer_of(m, e->name);
        cr_assert_not_null(l, "%s: no layer for %s", id, e->name);
        cr_assert_not_null(l->w.owned, "%s: %s was not merged", id, e->name);
        cr_assert_eq(l->w.dtype, SDC_DTYPE_F32);
        expect_close(l->w.owned, e, golden_set_tol("lora", id, e->name), e->name);
        seen++;
    }
    cr_expect_gt(seen, 0, "%s: no weights.* samples", id);
}

static void check_case(json_t *c)
{
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *file = json_string_value(json_object_get(c, "file"));
    const char *lora = json_string_value(json_object_get(c, "lora_file"));
    float te_mult = (float)json_number_value(json_object_get(c, "te_multiplier"));
    float unet_mult = (float)json_number_value(json_object_get(c, "unet_multiplier"));
    char rel[256], lora_path[1024];
    snprintf(rel, sizeof rel, "lora/%s", lora);
    snprintf(lora_path, sizeof lora_path, "%s", golden_path(rel));
    snprintf(rel, sizeof rel, "lora/%s", file);
    sdc_safetensors *st = golden_open(rel);
    model m = load_tiny();
    const size_t NT = 77 * 64, NU = 4 * 16 * 16;

    outputs base = run(&m, st);
    sdc_layer *probe = sdc_layer_table_find(sdc_unet_layers(m.unet), "input_blocks.1.1.proj_in");
    const void *probe_view = probe ? probe->w.data : NULL;
    if (base.te)
        expect_close(base.te, golden_get(st, "te.final_base"),
                     golden_set_tol("lora", id, "te.final_base"), "te.final_base");
    expect_close(base.unet, golden_get(st, "unet.out_base"),
                 golden_set_tol("lora", id, "unet.out_base"), "unet.out_base");

    /* merged */
    sdc_lora_stack *s = stack_for(&m, SDC_LORA_MERGE);
    cr_assert_eq(sdc_lora_apply(s, lora_path, te_mult, unet_mult), SDC_OK, "%s",
                 sdc_last_error());
    cr_expect_eq(sdc_lora_unmatched(s, NULL), 0, "%s: unmatched adapters", id);
    cr_expect_gt(sdc_lora_merged_bytes(s), 0);
    expect_merged_weights(&m, st, id);
    outputs merged = run(&m, st);
    if (merged.te)
        expect_close(merged.te, golden_get(st, "te.final"), golden_set_tol("lora", id, "te.final"),
                     "te.final");
    expect_close(merged.unet, golden_get(st, "unet.out"), golden_set_tol("lora", id, "unet.out"),
                 "unet.out");
    sdc_lora_stack_free(s);

    /* freed: the original views, and outputs identical to the base ones */
    if (probe)
        cr_expect_eq(probe->w.data, probe_view, "%s: proj_in is not the checkpoint's view", id);
    outputs after = run(&m, st);
    cr_expect(same_bits(after.unet, base.unet, NU), "%s: UNet not restored bit for bit", id);
    if (base.te)
        cr_expect(same_bits(after.te, base.te, NT), "%s: text encoder not restored", id);

    /* run time: plain LoRA as adapters, the rest merged; the same result */
    s = stack_for(&m, SDC_LORA_RUNTIME);
    cr_assert_eq(sdc_lora_apply(s, lora_path, te_mult, unet_mult), SDC_OK, "%s",
                 sdc_last_error());
    outputs rt = run(&m, st);
    expect_close(rt.unet, golden_get(st, "unet.out"), golden_set_tol("lora", id, "unet.out"),
                 "unet.out at run time");
    if (rt.te)
        expect_close(rt.te, golden_get(st, "te.final"), golden_set_tol("lora", id, "te.final"),
                     "te.final at run time");
    sdc_lora_stack_free(s);

    /* multiplier 0: nothing changes */
    s = stack_for(&m, SDC_LORA_MERGE);
    cr_assert_eq(sdc_lora_apply(s, lora_path, 0.0f, 0.0f), SDC_OK, "%s", sdc_last_error());
    outputs zero = run(&m, st);
    cr_expect(same_bits(zero.unet, base.unet, NU), "%s: multiplier 0 changed the UNet", id);
    if (base.te)
        cr_expect(same_bits(zero.te, base.te, NT), "%s: multiplier 0 changed the text encoder",
                  id);
    sdc_lora_stack_free(s);

    free_outputs(&base), free_outputs(&merged), free_outputs(&after), free_outputs(&rt),
        free_outputs(&zero);
    free_model(&m);
    sdc_safetensors_close(st);
}

Test(lora, every_golden_adapter_file)
{
    json_t *man = golden_set_manifest("lora"), *c;
    size_t i, n = 0;
    json_array_foreach(json_object_get(man, "cases"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "kind")), "lora") != 0)
            continue;
        check_case(c);
        n++;
    }
    cr_expect_eq(n, 7, "expected the 7 lora cases, saw %zu", n);
    json_decref(man);
}

/* ---- untrusted files ------------------------------------------------------------------ */

static const char *const TARGET = "lora_te_text_model_encoder_layers_0_self_attn_q_proj";

typedef struct crafted {
    int rank, down_cols, up_rows;
    float alpha;
    const char *prefix; /* module name, TARGET when NULL */
} crafted;

/* A kohya file with one adapter of the given shapes; returns its path. */
static const char *write_crafted(const crafted *c)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/test_lora_%d.safetensors", getenv("SDC_BUILD_DIR"),
             (int)getpid());
    enum { MOST = 128 * 64 }; /* the largest crafted tensor: rank 65 (and more) x 64 */
    static float down[MOST], up[MOST];
    cr_assert((size_t)c->rank * c->down_cols <= MOST && (size_t)c->up_rows * c->rank <= MOST);
    for (int i = 0; i < MOST; i++)
        down[i] = up[i] = 0.01f * (float)(i % 7);
    float alpha = c->alpha;
    sdc_tensor td = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {c->rank, c->down_cols},
                     .data = down};
    sdc_tensor tu = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {c->up_rows, c->rank},
                     .data = up};
    sdc_tensor ta = {.dtype = SDC_DTYPE_F32, .ndim = 0, .data = &alpha};
    char n_down[200], n_up[200], n_alpha[200];
    const char *module = c->prefix ? c->prefix : TARGET;
    snprintf(n_down, sizeof n_down, "%s.lora_down.weight", module);
    snprintf(n_up, sizeof n_up, "%s.lora_up.weight", module);
    snprintf(n_alpha, sizeof n_alpha, "%s.alpha", module);
    st_item items[] = {{n_down, &td}, {n_up, &tu}, {n_alpha, &ta}};
    st_write(path, items, 3);
    return path;
}

/* Applies a crafted file; returns the status, the model's q_proj checked to be untouched
 * whenever it fails. */
static sdc_status apply_crafted(model *m, const crafted *c, size_t *unmatched)
{
    const char *path = write_crafted(c);
    sdc_layer *q = sdc_layer_table_find(sdc_text_encoder_layer_table(m->te),
                                        "text_model.encoder.layers.0.self_attn.q_proj");
    const void *view = q->w.data;
    sdc_lora_stack *s = stack_for(m, SDC_LORA_MERGE);
    sdc_status st = sdc_lora_apply(s, path, 1.0f, 1.0f);
    if (st != SDC_OK) {
        cr_expect(strstr(sdc_last_error(), path), "the error names no file: %s",
                  sdc_last_error());
        cr_expect_eq(q->w.data, view, "a failed file left the layer changed");
    }
    if (unmatched)
        *unmatched = sdc_lora_unmatched(s, NULL);
    sdc_lora_stack_free(s);
    cr_expect_eq(q->w.data, view);
    unlink(path);
    return st;
}

Test(lora, malformed_adapters_are_refused_with_the_file_named)
{
    model m = load_tiny();
    cr_expect_eq(apply_crafted(&m, &(crafted){4, 64, 64, 4.0f, NULL}, NULL), SDC_OK, "%s",
                 sdc_last_error());
    cr_expect_eq(apply_crafted(&m, &(crafted){4, 64, 64, NAN, NULL}, NULL), SDC_ERR_FORMAT);
    cr_expect(strstr(sdc_last_error(), "alpha"), "%s", sdc_last_error());
    cr_expect_eq(apply_crafted(&m, &(crafted){0, 64, 64, 1.0f, NULL}, NULL), SDC_ERR_FORMAT);
    cr_expect_eq(apply_crafted(&m, &(crafted){4, 63, 64, 1.0f, NULL}, NULL), SDC_ERR_FORMAT);
    cr_expect(strstr(sdc_last_error(), "does not fit"), "%s", sdc_last_error());
    cr_expect_eq(apply_crafted(&m, &(crafted){4, 64, 32, 1.0f, NULL}, NULL), SDC_ERR_FORMAT);
    cr_expect_eq(apply_crafted(&m, &(crafted){65, 64, 64, 1.0f, NULL}, NULL), SDC_ERR_FORMAT);
    size_t unmatched = 0;
    cr_expect_eq(apply_crafted(&m, &(crafted){4, 64, 64, 1.0f, "lora_te_text_model_nowhere"},
                               &unmatched),
                 SDC_ERR_UNSUPPORTED);
    cr_expect(strstr(sdc_last_error(), "another model family"), "%s", sdc_last_error());
    cr_expect_eq(apply_crafted(&m, &(crafted){4, 64, 64, 1.0f, "some_other_format"}, NULL),
                 SDC_ERR_FORMAT);
    cr_expect(strstr(sdc_last_error(), "known layout"), "%s", sdc_last_error());
    free_model(&m);
}

/* A file whose adapters partly name layers the model lacks: those are skipped and counted
 * (tensors, and the first name), the rest applied. */
Test(lora, adapters_for_missing_layers_are_counted_and_skipped)
{
    model m = load_tiny();
    static float down[4 * 64], up[64 * 4];
    sdc_tensor td = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {4, 64}, .data = down};
    sdc_tensor tu = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {64, 4}, .data = up};
    char path[256], n1[160], n2[160], n3[160], n4[160];
    snprintf(path, sizeof path, "%s/test_lora_stray_%d.safetensors", getenv("SDC_BUILD_DIR"),
             (int)getpid());
    snprintf(n1, sizeof n1, "%s.lora_down.weight", TARGET);
    snprintf(n2, sizeof n2, "%s.lora_up.weight", TARGET);
    snprintf(n3, sizeof n3, "lora_te_text_model_encoder_layers_99_mlp_fc1.lora_down.weight");
    snprintf(n4, sizeof n4, "lora_te_text_model_encoder_layers_99_mlp_fc1.lora_up.weight");
    st_item items[] = {{n1, &td}, {n2, &tu}, {n3, &td}, {n4, &tu}};
    st_write(path, items, 4);
    sdc_lora_stack *s = stack_for(&m, SDC_LORA_MERGE);
    cr_assert_eq(sdc_lora_apply(s, path, 1.0f, 1.0f), SDC_OK, "%s", sdc_last_error());
    const char *first;
    cr_expect_eq(sdc_lora_unmatched(s, &first), 2);
    cr_expect(first && strstr(first, "layers_99"), "%s", first ? first : "(none)");
    cr_expect_gt(sdc_lora_merged_bytes(s), 0, "the matching adapter was not applied");
    sdc_lora_stack_free(s);
    unlink(path);
    free_model(&m);
}

/* The stray file of the test above also says so through the log handler, naming the file,
 * the count and the first tensor. */
static char logged[1024];
static void capture(sdc_log_level level, const char *message, void *user_data)
{
    (void)user_data;
    if (level == SDC_LOG_WARNING)
        snprintf(logged, sizeof logged, "%s", message);
}

Test(lora, unmatched_adapters_are_a_warning_naming_the_file)
{
    model m = load_tiny();
    static float down[4 * 64], up[64 * 4];
    sdc_tensor td = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {4, 64}, .data = down};
    sdc_tensor tu = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {64, 4}, .data = up};
    char path[256];
    snprintf(path, sizeof path, "%s/test_lora_warn_%d.safetensors", getenv("SDC_BUILD_DIR"),
             (int)getpid());
    st_item items[] = {{"lora_unet_no_such_block_proj.lora_down.weight", &td},
                       {"lora_unet_no_such_block_proj.lora_up.weight", &tu},
                       {"lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight",
                        &td},
                       {"lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight",
                        &tu}};
    st_write(path, items, 4);
    sdc_set_log(capture, NULL);
    logged[0] = '\0';
    sdc_lora_stack *s = stack_for(&m, SDC_LORA_MERGE);
    cr_assert_eq(sdc_lora_apply(s, path, 1.0f, 1.0f), SDC_OK, "%s", sdc_last_error());
    sdc_set_log(NULL, NULL);
    cr_expect(strstr(logged, path) && strstr(logged, "2 tensors match no layer") &&
                  strstr(logged, "no_such_block"),
              "warning: '%s'", logged);
    sdc_lora_stack_free(s);
    unlink(path);
    free_model(&m);
}

/* A LoRA saved by torch (.pt / .ckpt: a zip with a pickled state dict) merges exactly as the
 * same tensors in a .safetensors file, and its hash is the whole file's SHA-256. */
static float pt_down[4 * 64], pt_up[64 * 4];

static void crafted_state_dict(ckb_pickle *p)
{
    char name[200];
    ckb_op(p, 0x80);
    ckb_op(p, 2);
    ckb_ordered_dict(p);
    ckb_op(p, '(');
    snprintf(name, sizeof name, "%s.lora_down.weight", TARGET);
    ckb_str(p, name);
    ckb_tensor(p, "FloatStorage", "0", 4 * 64, 0, 2, (int64_t[]){4, 64}, NULL);
    snprintf(name, sizeof name, "%s.lora_up.weight", TARGET);
    ckb_str(p, name);
    ckb_tensor(p, "FloatStorage", "1", 64 * 4, 0, 2, (int64_t[]){64, 4}, NULL);
    ckb_op(p, 'u');
    ckb_op(p, '.');
}

static float *merged_q(model *m, const char *path)
{
    sdc_lora_stack *s = stack_for(m, SDC_LORA_MERGE);
    cr_assert_eq(sdc_lora_apply(s, path, 0.7f, 0.7f), SDC_OK, "%s", sdc_last_error());
    sdc_layer *q = sdc_layer_table_find(sdc_text_encoder_layer_table(m->te),
                                        "text_model.encoder.layers.0.self_attn.q_proj");
    cr_assert_not_null(q->w.owned);
    float *copy = malloc(64 * 64 * sizeof *copy);
    cr_assert_not_null(copy);
    memcpy(copy, q->w.owned, 64 * 64 * sizeof *copy);
    sdc_lora_stack_free(s);
    return copy;
}

Test(lora, torch_pickled_lora_files_merge_as_safetensors)
{
    model m = load_tiny();
    for (int i = 0; i < 4 * 64; i++)
        pt_down[i] = pt_up[i] = 0.02f * (float)(i % 5) - 0.03f;
    char st_path[256], pt_path[256];
    snprintf(st_path, sizeof st_path, "%s/test_lora_pt_%d.safetensors",
             getenv("SDC_BUILD_DIR"), (int)getpid());
    snprintf(pt_path, sizeof pt_path, "%s/test_lora_pt_%d.pt", getenv("SDC_BUILD_DIR"),
             (int)getpid());
    sdc_tensor td = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {4, 64}, .data = pt_down};
    sdc_tensor tu = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {64, 4}, .data = pt_up};
    char n_down[200], n_up[200];
    snprintf(n_down, sizeof n_down, "%s.lora_down.weight", TARGET);
    snprintf(n_up, sizeof n_up, "%s.lora_up.weight", TARGET);
    st_write(st_path, (st_item[]){{n_down, &td}, {n_up, &tu}}, 2);
    ckb_pickle p = {0};
    crafted_state_dict(&p);
    const ckb_member members[] = {{"data/0", pt_down, sizeof pt_down, 0},
                                  {"data/1", pt_up, sizeof pt_up, 0}};
    cr_assert_eq(ckb_write_zip(pt_path, "archive", &p, members, 2), 0);
    ckb_free(&p);

    float *a = merged_q(&m, st_path), *b = merged_q(&m, pt_path);
    cr_expect(same_bits(a, b, 64 * 64), ".pt and .safetensors merges differ");
    free(a);
    free(b);

    char hex[13], full[65];
    cr_assert_eq(sdc_lora_short_hash(pt_path, hex), SDC_OK, "%s", sdc_last_error());
    FILE *f = fopen(pt_path, "rb");
    cr_assert_not_null(f);
    static uint8_t bytes[1 << 16];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    cr_assert_lt(n, sizeof bytes);
    sdc_sha256 ctx;
    uint8_t digest[32];
    sdc_sha256_init(&ctx);
    sdc_sha256_update(&ctx, bytes, n);
    sdc_sha256_final(&ctx, digest);
    sdc_sha256_hex(digest, full);
    cr_expect_eq(strncmp(hex, full, 12), 0, "hash %s, file's SHA-256 %.12s", hex, full);

    /* a prompt tag finds NAME.pt when there is no NAME.safetensors */
    unlink(st_path);
    sdc_generate_params gp = sdc_generate_default_params();
    char prompt[200], want[200];
    snprintf(prompt, sizeof prompt, "a cat <lora:test_lora_pt_%d:0.5>", (int)getpid());
    snprintf(want, sizeof want, "test_lora_pt_%d: %.12s", (int)getpid(), full);
    gp.prompt = prompt;
    gp.lora_dir = getenv("SDC_BUILD_DIR");
    char *hashes = NULL;
    cr_assert_eq(sdc_pipeline_lora_hashes(NULL, &gp, &hashes), SDC_OK, "%s", sdc_last_error());
    cr_expect_str_eq(hashes, want);
    free(hashes);
    unlink(pt_path);
    free_model(&m);
}

/* An SDXL LoRA (it changes a second text encoder) on a model with one is refused by name. */
Test(lora, sdxl_lora_on_a_one_encoder_model_is_refused)
{
    model m = load_tiny();
    static float down[4 * 64], up[64 * 4];
    sdc_tensor td = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {4, 64}, .data = down};
    sdc_tensor tu = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {64, 4}, .data = up};
    char path[256];
    snprintf(path, sizeof path, "%s/test_lora_xl_%d.safetensors", getenv("SDC_BUILD_DIR"),
             (int)getpid());
    st_item items[] = {{"lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", &td},
                       {"lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", &tu},
                       {"lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", &td},
                       {"lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", &tu}};
    st_write(path, items, 4);
    sdc_lora_stack *s = stack_for(&m, SDC_LORA_MERGE);
    cr_expect_eq(sdc_lora_apply(s, path, 1.0f, 1.0f), SDC_ERR_UNSUPPORTED);
    cr_expect(strstr(sdc_last_error(), "SDXL") && strstr(sdc_last_error(), path), "%s",
              sdc_last_error());
    sdc_lora_stack_free(s);
    unlink(path);
    free_model(&m);
}

/* kohya's '_'-flattened paths come back with the module names that contain '_' whole. */
Test(lora, kohya_module_paths)
{
    static const char *const cases[][2] = {
        {"down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0",
         "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0"},
        {"up_blocks_1_resnets_2_time_emb_proj", "up_blocks.1.resnets.2.time_emb_proj"},
        {"mid_block_attentions_0_transformer_blocks_0_ff_net_0_proj",
         "mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj"},
        {"text_model_encoder_layers_11_self_attn_out_proj",
         "text_model.encoder.layers.11.self_attn.out_proj"},
        {"conv_norm_out", "conv_norm_out"},
        {"time_embedding_linear_1", "time_embedding.linear_1"},
        {"output_blocks_2_0_skip_connection", "output_blocks.2.0.skip_connection"},
        {"middle_block_0_emb_layers_1", "middle_block.0.emb_layers.1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[256];
        cr_assert(sdc_lora_kohya_module(cases[i][0], out, sizeof out));
        cr_expect_str_eq(out, cases[i][1]);
    }
}

/* ---- one generation's LoRAs (prompt tags, sdc_generate_params.loras) -------------------- */

static void render(sdc_model *m, sdc_generate_params *p, const char *prompt, uint8_t *rgb)
{
    p->prompt = prompt;
    cr_assert_eq(sdc_generate(m, p, rgb), SDC_OK, "%s", sdc_last_error());
}

Test(lora, prompt_tags_change_one_generation_and_are_recorded)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = golden_path("models/tiny-sd1/model.safetensors");
    sdc_model *m;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    sdc_generate_params p = sdc_generate_default_params();
    p.width = p.height = 64;
    p.steps = 2;
    p.negative_prompt = "blurry";
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", golden_path("lora/loras"));
    p.lora_dir = dir;
    enum { N = 64 * 64 * 3 };
    static uint8_t plain[N], tagged[N], again[N], zero[N], listed[N];
    render(m, &p, "a cat", plain);
    render(m, &p, "a cat <lora:kohya_attn_te:0.8>", tagged);
    cr_expect(memcmp(plain, tagged, N) != 0, "the LoRA changed nothing");
    render(m, &p, "a cat", again);
    cr_expect(memcmp(plain, again, N) == 0, "a generation without tags is not the original");
    render(m, &p, "a cat <lora:kohya_attn_te:0>", zero);
    cr_expect(memcmp(plain, zero, N) == 0, "weight 0 changed the picture");

    /* the same file given by path: the same picture */
    char path[1100];
    snprintf(path, sizeof path, "%s/kohya_attn_te.safetensors", dir);
    sdc_lora_file file = {path, 0.8f, 0.8f};
    p.loras = &file;
    p.lora_count = 1;
    render(m, &p, "a cat", listed);
    cr_expect(memcmp(tagged, listed, N) == 0, "--lora and the tag differ");
    p.loras = NULL;
    p.lora_count = 0;

    /* PNG parameters keep the tag and name the file's hash (sha256 after the header, as
     * computed independently with Python's hashlib) */
    char *text;
    p.prompt = "a cat <lora:kohya_attn_te:0.8>";
    cr_assert_eq(sdc_generate_parameters_text(m, &p, &text), SDC_OK, "%s", sdc_last_error());
    cr_expect(strstr(text, "a cat <lora:kohya_attn_te:0.8>\n"), "%s", text);
    cr_expect(strstr(text, ", Lora hashes: \"kohya_attn_te: 46ea3bcbfb8b\""), "%s", text);
    free(text);

    p.prompt = "a cat <lora:no_such_lora:1>";
    cr_expect_eq(sdc_generate(m, &p, plain), SDC_ERR_IO);
    cr_expect(strstr(sdc_last_error(), "no_such_lora"), "%s", sdc_last_error());
    p.prompt = "a cat <lora:kohya_attn_te:heavy>";
    cr_expect_eq(sdc_generate(m, &p, plain), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "<lora:kohya_attn_te:heavy>"), "%s", sdc_last_error());
    sdc_model_free(m);
}

/* kohya's SDXL layout: lora_te1_ (CLIP-L), lora_te2_ (OpenCLIP bigG, split q/k/v) and UNet
 * keys in LDM names (a LoCon on a 3x3 convolution), each changing its layer of tiny-sdxl by
 * up @ down * alpha / rank (checked at one weight per layer against a float64 sum). */
Test(lora, kohya_sdxl_names)
{
    sdc_checkpoint *ck;
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sdxl/model.safetensors"), &ck),
                 SDC_OK, "%s", sdc_last_error());
    sdc_unet *unet;
    sdc_text_encoder *te, *te2;
    cr_assert_eq(sdc_unet_load(ck, &unet), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_text_encoder_load_component(ck, SDC_COMPONENT_TEXT, &te), SDC_OK);
    cr_assert_eq(sdc_text_encoder_load_component(ck, SDC_COMPONENT_TEXT2, &te2), SDC_OK);
    static const struct {
        const char *key, *layer;
        int which, out, cols; /* 0 te, 1 te2, 2 unet */
    } cases[] = {
        {"lora_te1_text_model_encoder_layers_0_self_attn_q_proj",
         "text_model.encoder.layers.0.self_attn.q_proj", 0, 64, 64},
        {"lora_te2_text_model_encoder_layers_0_self_attn_k_proj",
         "text_model.encoder.layers.0.self_attn.k_proj", 1, 128, 128},
        {"lora_unet_input_blocks_1_0_in_layers_2", "input_blocks.1.0.in_layers.2", 2, 32, 32 * 9},
    };
    sdc_layer_table *tables[3] = {sdc_text_encoder_layer_table(te),
                                  sdc_text_encoder_layer_table(te2), sdc_unet_layers(unet)};
    static float down[3][2 * 32 * 9 * 4], up[3][128 * 2];
    sdc_tensor t[9];
    st_item items[9];
    char names[9][160];
    float alpha = 1.0f;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 2 * cases[i].cols; j++)
            down[i][j] = 0.01f * (float)(j % 11) - 0.05f;
        for (int j = 0; j < 2 * cases[i].out; j++)
            up[i][j] = 0.02f * (float)(j % 5) - 0.04f;
        t[3 * i] = (sdc_tensor){.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {2, cases[i].cols},
                                .data = down[i]};
        t[3 * i + 1] = (sdc_tensor){.dtype = SDC_DTYPE_F32, .ndim = 2,
                                    .shape = {cases[i].out, 2}, .data = up[i]};
        t[3 * i + 2] = (sdc_tensor){.dtype = SDC_DTYPE_F32, .ndim = 0, .data = &alpha};
        static const char *const parts[] = {"lora_down.weight", "lora_up.weight", "alpha"};
        for (int p = 0; p < 3; p++) {
            snprintf(names[3 * i + p], sizeof names[0], "%s.%s", cases[i].key, parts[p]);
            items[3 * i + p] = (st_item){names[3 * i + p], &t[3 * i + p]};
        }
    }
    char path[256];
    snprintf(path, sizeof path, "%s/test_lora_sdxl_%d.safetensors", getenv("SDC_BUILD_DIR"),
             (int)getpid());
    st_write(path, items, 9);
    sdc_lora_targets targets = {.te = tables[0], .te2 = tables[1], .unet = tables[2]};
    sdc_lora_stack *s;
    cr_assert_eq(sdc_lora_stack_create(&targets, SDC_LORA_MERGE, &s), SDC_OK);
    float *before[3];
    for (int i = 0; i < 3; i++) {
        sdc_layer *l = sdc_layer_table_find(tables[cases[i].which], cases[i].layer);
        cr_assert_not_null(l, "%s", cases[i].layer);
        before[i] = malloc((size_t)l->w.rows * l->w.cols * sizeof(float));
        sdc_convert_to_f32(before[i], l->w.data, l->w.dtype, (size_t)l->w.rows * l->w.cols);
    }
    cr_assert_eq(sdc_lora_apply(s, path, 1.0f, 1.0f), SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(sdc_lora_unmatched(s, NULL), 0);
    for (int i = 0; i < 3; i++) {
        sdc_layer *l = sdc_layer_table_find(tables[cases[i].which], cases[i].layer);
        cr_assert_not_null(l->w.owned, "%s was not changed", cases[i].layer);
        const float *w = l->w.owned;
        int o = cases[i].out - 1, c = cases[i].cols - 1; /* the last weight */
        double delta = 0;
        for (int r = 0; r < 2; r++)
            delta += (double)up[i][o * 2 + r] * down[i][r * cases[i].cols + c];
        double want = before[i][(size_t)o * cases[i].cols + c] + 0.5 * delta; /* alpha 1/rank 2 */
        cr_expect(fabs(w[(size_t)o * cases[i].cols + c] - want) < 1e-6, "%s: %g vs %g",
                  cases[i].layer, w[(size_t)o * cases[i].cols + c], want);
        free(before[i]);
    }
    sdc_lora_stack_free(s);
    unlink(path);
    sdc_text_encoder_free(te2);
    sdc_text_encoder_free(te);
    sdc_unet_free(unet);
    sdc_checkpoint_close(ck);
}
