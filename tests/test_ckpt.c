/* Legacy PyTorch .ckpt files, built here byte by byte (tests/fuzz/ckpt_build.h): a valid one
 * gives the same tensors as its safetensors twin (also a whole golden model), malicious and
 * broken ones are refused with messages naming the problem, and `sdc convert` writes
 * single-file safetensors that open like their sources. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clip/text_family.h"
#include "tests/fuzz/ckpt_build.h"
#include "tests/golden.h"
#include "tests/st_write.h"
#include "weights/checkpoint.h"
#include "weights/ckpt.h"
#include "weights/ckpt_convert.h"
#include "weights/pickle.h"
#include "weights/safetensors.h"

/* ---- helpers ---------------------------------------------------------------------- */

static char tmp_dir[64];

static void make_dir(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/sdc_test_ckpt_XXXXXX");
    cr_assert(mkdtemp(tmp_dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(ckpt, .init = make_dir, .fini = remove_dir);

static const char *tmp(const char *name)
{
    static char buf[4][256];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tmp_dir, name);
    return b;
}

/* Opens `path` expecting failure whose message contains `needle`. */
static void expect_refused(const char *path, const char *needle)
{
    sdc_safetensors *st = (sdc_safetensors *)1;
    sdc_status s = sdc_ckpt_open(path, &st);
    cr_expect_neq(s, SDC_OK, "%s opened but should not", path);
    cr_expect_null(st);
    cr_expect(strstr(sdc_last_error(), needle), "message '%s' lacks '%s'", sdc_last_error(),
              needle);
    cr_expect(strstr(sdc_last_error(), path), "message '%s' lacks the file name",
              sdc_last_error());
}

static void expect_pickle_refused(const ckb_pickle *p, const char *needle)
{
    sdc_pickle *pk = (sdc_pickle *)1;
    sdc_status s = sdc_pickle_load(p->data, p->len, "test.pkl", &pk);
    cr_expect_neq(s, SDC_OK, "pickle accepted but should not");
    cr_expect_null(pk);
    cr_expect(strstr(sdc_last_error(), needle), "message '%s' lacks '%s'", sdc_last_error(),
              needle);
}

/* The small state dict most tests use: four tensors over two storages. */
static float storage0[8] = {1, -2, 3.5f, 4, 5, 6, 7, 8};
static uint16_t storage1[4] = {0x3c00, 0xc000, 0x3800, 0x0000}; /* 1, -2, 0.5, 0 in f16 */

static void small_state_dict(ckb_pickle *p)
{
    ckb_str(p, "model.diffusion_model.a.weight"); /* [2, 3] from storage 0 */
    ckb_tensor(p, "FloatStorage", "0", 8, 0, 2, (int64_t[]){2, 3}, NULL);
    ckb_str(p, "model.diffusion_model.b.bias"); /* [4] from storage 1 */
    ckb_tensor(p, "HalfStorage", "1", 4, 0, 1, (int64_t[]){4}, NULL);
    ckb_str(p, "first_stage_model.c.weight"); /* view [2, 2] at offset 4 of storage 0 */
    ckb_global(p, "torch._utils", "_rebuild_parameter");
    ckb_op(p, '(');
    ckb_tensor(p, "FloatStorage", "0", 8, 4, 2, (int64_t[]){2, 2}, NULL);
    ckb_op(p, 0x88);
    ckb_ordered_dict(p);
    ckb_op(p, 't');
    ckb_op(p, 'R');
    ckb_str(p, "scalar"); /* 0-d at offset 7 */
    ckb_tensor(p, "FloatStorage", "0", 8, 7, 0, NULL, NULL);
}

/* {'state_dict': OrderedDict(...), 'global_step': 7, 'callbacks': ModelCheckpoint} */
static void lightning_pickle(ckb_pickle *p, void (*body)(ckb_pickle *))
{
    ckb_op(p, 0x80);
    ckb_op(p, 2);
    ckb_op(p, '}');
    ckb_op(p, '(');
    ckb_str(p, "global_step");
    ckb_int(p, 7);
    ckb_str(p, "callbacks");
    ckb_global(p, "pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint");
    ckb_op(p, ')');
    ckb_op(p, 0x81); /* NEWOBJ */
    ckb_op(p, '}');
    ckb_str(p, "monitor");
    ckb_op(p, 'N');
    ckb_op(p, 's');
    ckb_op(p, 'b'); /* BUILD */
    ckb_str(p, "state_dict");
    ckb_ordered_dict(p);
    ckb_op(p, 'q'); /* BINPUT 0, as picklers memoize */
    ckb_op(p, 0);
    ckb_op(p, '(');
    body(p);
    ckb_op(p, 'u');
    ckb_op(p, 'u');
    ckb_op(p, '.');
}

static const ckb_member small_members[] = {
    {"data/0", storage0, sizeof storage0, 0},
    {"data/1", storage1, sizeof storage1, 0},
};

static void write_small(const char *path, ckb_pickle *p)
{
    lightning_pickle(p, small_state_dict);
    cr_assert_eq(ckb_write_zip(path, "archive", p, small_members, 2), 0);
}

static void expect_same_tensor(const sdc_st_entry *a, const sdc_st_entry *b)
{
    cr_assert_not_null(b, "'%s' missing in the twin", a->name);
    cr_expect_eq(a->tensor.dtype, b->tensor.dtype, "'%s' dtype", a->name);
    cr_expect_eq(a->tensor.ndim, b->tensor.ndim, "'%s' ndim", a->name);
    for (int d = 0; d < a->tensor.ndim; d++)
        cr_expect_eq(a->tensor.shape[d], b->tensor.shape[d], "'%s' dim %d", a->name, d);
    cr_expect_eq(a->nbytes, b->nbytes, "'%s' size", a->name);
    cr_expect(a->nbytes == b->nbytes && memcmp(a->tensor.data, b->tensor.data, a->nbytes) == 0,
              "'%s' data differ", a->name);
}

static void expect_same_tables(const sdc_safetensors *a, const sdc_safetensors *b)
{
    cr_expect_eq(sdc_safetensors_count(a), sdc_safetensors_count(b));
    for (size_t i = 0; i < sdc_safetensors_count(a); i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(a, i);
        expect_same_tensor(e, sdc_safetensors_find(b, e->name));
    }
}

/* ---- valid checkpoints ------------------------------------------------------------ */

Test(ckpt, minimal_checkpoint_matches_its_safetensors_twin)
{
    ckb_pickle p = {0};
    write_small(tmp("small.ckpt"), &p);
    ckb_free(&p);

    sdc_tensor a = {SDC_DTYPE_F32, 2, {2, 3}, storage0, NULL, NULL};
    sdc_tensor b = {SDC_DTYPE_F16, 1, {4}, storage1, NULL, NULL};
    sdc_tensor c = {SDC_DTYPE_F32, 2, {2, 2}, storage0 + 4, NULL, NULL};
    sdc_tensor d = {SDC_DTYPE_F32, 0, {0}, storage0 + 7, NULL, NULL};
    st_item items[] = {{"model.diffusion_model.a.weight", &a},
                       {"model.diffusion_model.b.bias", &b},
                       {"first_stage_model.c.weight", &c},
                       {"scalar", &d}};
    st_write(tmp("small.safetensors"), items, 4);

    sdc_safetensors *ck, *st;
    cr_assert_eq(sdc_ckpt_open(tmp("small.ckpt"), &ck), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_safetensors_open(tmp("small.safetensors"), &st), SDC_OK);
    expect_same_tables(ck, st);
    expect_same_tables(st, ck);
    sdc_safetensors_close(ck);
    sdc_safetensors_close(st);

    /* and through the checkpoint interface, like any single file */
    sdc_checkpoint *model;
    cr_assert_eq(sdc_checkpoint_open(tmp("small.ckpt"), &model), SDC_OK, "%s", sdc_last_error());
    const sdc_tensor *t = sdc_checkpoint_get(model, SDC_COMPONENT_UNET, "a.weight");
    cr_assert_not_null(t);
    cr_expect_eq(((const float *)t->data)[2], 3.5f);
    cr_expect_not_null(sdc_checkpoint_get(model, SDC_COMPONENT_VAE, "c.weight"));
    cr_expect_eq(sdc_checkpoint_unused_count(model), 1);
    sdc_checkpoint_close(model);
}

Test(ckpt, compressed_members_and_top_level_state_dicts)
{
    /* a plain dict of tensors at the top, storages deflated */
    ckb_pickle p = {0};
    ckb_op(&p, 0x80);
    ckb_op(&p, 2);
    ckb_op(&p, '}');
    ckb_op(&p, '(');
    small_state_dict(&p);
    ckb_op(&p, 'u');
    ckb_op(&p, '.');
    ckb_member members[] = {{"data/0", storage0, sizeof storage0, 1},
                            {"data/1", storage1, sizeof storage1, 1}};
    cr_assert_eq(ckb_write_zip(tmp("deflated.ckpt"), "weights", &p, members, 2), 0);
    ckb_free(&p);
    sdc_safetensors *ck;
    cr_assert_eq(sdc_ckpt_open(tmp("deflated.ckpt"), &ck), SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(sdc_safetensors_count(ck), 4);
    const sdc_st_entry *e = sdc_safetensors_find(ck, "first_stage_model.c.weight");
    cr_assert_not_null(e);
    /* compressed storages are inflated on first use */
    cr_assert_eq(sdc_safetensors_load(ck, e->tensor.data, e->nbytes), SDC_OK, "%s",
                 sdc_last_error());
    cr_expect_eq(((const float *)e->tensor.data)[3], 8.0f);
    sdc_safetensors_close(ck);
}

static const sdc_safetensors *golden_src;

/* Every tensor of the golden file in its own storage, keyed by index. */
static void golden_state_dict(ckb_pickle *p)
{
    for (size_t i = 0; i < sdc_safetensors_count(golden_src); i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(golden_src, i);
        char key[32];
        snprintf(key, sizeof key, "%zu", i);
        ckb_str(p, e->name);
        ckb_tensor(p, ckb_storage_class(e->tensor.dtype), key,
                   sdc_tensor_numel(&e->tensor), 0, e->tensor.ndim, e->tensor.shape, NULL);
    }
}

static void expect_same_component(sdc_checkpoint *a, sdc_checkpoint *b, sdc_component c)
{
    cr_expect_eq(sdc_checkpoint_count(a, c), sdc_checkpoint_count(b, c));
    for (size_t i = 0; i < sdc_checkpoint_count(a, c); i++) {
        const sdc_tensor *x, *y;
        const char *name = sdc_checkpoint_name_at(a, c, i, &x);
        y = sdc_checkpoint_get(b, c, name);
        cr_assert_not_null(y, "%s '%s' missing", sdc_component_name(c), name);
        size_t n = (size_t)sdc_tensor_numel(x) * sdc_dtype_size(x->dtype);
        cr_expect(x->dtype == y->dtype && sdc_tensor_numel(x) == sdc_tensor_numel(y) &&
                      memcmp(x->data, y->data, n) == 0,
                  "%s '%s' differs", sdc_component_name(c), name);
    }
}

static void expect_same_model(sdc_checkpoint *a, sdc_checkpoint *b)
{
    cr_expect_eq(sdc_checkpoint_family(a), sdc_checkpoint_family(b));
    cr_expect_eq(sdc_text_family_of(a, SDC_COMPONENT_TEXT).cond_layers, sdc_text_family_of(b, SDC_COMPONENT_TEXT).cond_layers);
    cr_expect_eq(sdc_text_family_of(a, SDC_COMPONENT_TEXT).quick_gelu, sdc_text_family_of(b, SDC_COMPONENT_TEXT).quick_gelu);
    cr_expect_eq(sdc_text_family_of(a, SDC_COMPONENT_TEXT).pad_token, sdc_text_family_of(b, SDC_COMPONENT_TEXT).pad_token);
    cr_expect_eq(sdc_checkpoint_prediction(a), sdc_checkpoint_prediction(b));
    cr_expect_eq(sdc_checkpoint_unet_in_channels(a), sdc_checkpoint_unet_in_channels(b));
    for (int c = 0; c < SDC_COMPONENT_COUNT; c++)
        expect_same_component(a, b, (sdc_component)c);
}

/* {...} of body's items at the top, as torch.save(model.state_dict()) writes (diffusers
 * and transformers .bin files). */
static void plain_pickle(ckb_pickle *p, void (*body)(ckb_pickle *))
{
    ckb_op(p, 0x80);
    ckb_op(p, 2);
    ckb_ordered_dict(p);
    ckb_op(p, '(');
    body(p);
    ckb_op(p, 'u');
    ckb_op(p, '.');
}

/* Writes every tensor of src to `path` as a torch.save zip, state dict at the top level or
 * (lightning) nested as training checkpoints have it. */
static void write_torch_zip(const sdc_safetensors *src, const char *path, int lightning)
{
    golden_src = src;
    size_t n = sdc_safetensors_count(src);
    ckb_member *members = calloc(n, sizeof *members);
    char (*names)[32] = calloc(n, sizeof *names);
    cr_assert(members && names);
    for (size_t i = 0; i < n; i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(src, i);
        snprintf(names[i], sizeof names[i], "data/%zu", i);
        members[i] = (ckb_member){names[i], e->tensor.data, e->nbytes, 0};
    }
    ckb_pickle p = {0};
    (lightning ? lightning_pickle : plain_pickle)(&p, golden_state_dict);
    cr_assert_eq(ckb_write_zip(path, "archive", &p, members, n), 0);
    ckb_free(&p);
    free(members);
    free(names);
}

Test(ckpt, golden_model_as_ckpt_gives_the_same_model)
{
    sdc_safetensors *src = golden_open("models/tiny-sd1/model.safetensors");
    write_torch_zip(src, tmp("tiny.ckpt"), 1);
    sdc_checkpoint *a, *b;
    cr_assert_eq(sdc_checkpoint_open(tmp("tiny.ckpt"), &a), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sd1/model.safetensors"), &b),
                 SDC_OK);
    expect_same_model(a, b);
    cr_expect_eq(sdc_checkpoint_unused_count(a), sdc_checkpoint_unused_count(b));
    /* a .ckpt also serves as --vae */
    cr_expect_eq(sdc_checkpoint_replace_vae(b, tmp("tiny.ckpt")), SDC_OK, "%s", sdc_last_error());
    expect_same_component(a, b, SDC_COMPONENT_VAE);
    sdc_checkpoint_close(a);
    sdc_checkpoint_close(b);
    sdc_safetensors_close(src);
}

/* SDXL as a .ckpt (both text encoders, the fused bigG projections split into views). */
Test(ckpt, sdxl_as_ckpt_gives_the_same_model)
{
    sdc_safetensors *src = golden_open("models/tiny-sdxl/model.safetensors");
    write_torch_zip(src, tmp("xl.ckpt"), 0);
    sdc_checkpoint *a, *b;
    cr_assert_eq(sdc_checkpoint_open(tmp("xl.ckpt"), &a), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sdxl/model.safetensors"), &b),
                 SDC_OK);
    cr_expect_eq(sdc_checkpoint_family(a), SDC_FAMILY_SDXL);
    cr_expect_gt(sdc_checkpoint_count(a, SDC_COMPONENT_TEXT2), 0);
    expect_same_model(a, b);
    cr_expect_eq(sdc_text_family_of(a, SDC_COMPONENT_TEXT2).cond_layers,
                 sdc_text_family_of(b, SDC_COMPONENT_TEXT2).cond_layers);
    sdc_checkpoint_close(a);
    sdc_checkpoint_close(b);
    sdc_safetensors_close(src);
}

/* A diffusers folder from before safetensors: every component's weights in a .bin
 * (torch.save of its state dict) give the model the .safetensors folder gives. */
Test(ckpt, diffusers_folder_with_bin_weights_gives_the_same_model)
{
    static const char *const parts[][2] = {
        {"unet", "diffusion_pytorch_model"},
        {"vae", "diffusion_pytorch_model"},
        {"text_encoder", "model"},
    };
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", golden_path("models/tiny-sd1/diffusers"),
             tmp("old"));
    cr_assert_eq(system(cmd), 0);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        char rel[256], st_path[256], bin_path[256];
        snprintf(rel, sizeof rel, "models/tiny-sd1/diffusers/%s/%s.safetensors", parts[i][0],
                 parts[i][1]);
        sdc_safetensors *src = golden_open(rel);
        snprintf(st_path, sizeof st_path, "%s/%s/%s.safetensors", tmp("old"), parts[i][0],
                 parts[i][1]);
        snprintf(bin_path, sizeof bin_path, "%s/%s/%s.bin", tmp("old"), parts[i][0],
                 i == 2 ? "pytorch_model" : parts[i][1]);
        write_torch_zip(src, bin_path, 0);
        cr_assert_eq(remove(st_path), 0);
        sdc_safetensors_close(src);
    }
    sdc_checkpoint *a, *b;
    cr_assert_eq(sdc_checkpoint_open(tmp("old"), &a), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sd1/diffusers"), &b), SDC_OK);
    expect_same_model(a, b);
    sdc_checkpoint_close(a);
    sdc_checkpoint_close(b);
}

/* ---- malicious and broken checkpoints --------------------------------------------- */

/* A pickle calling module.name(arg) at the top level. */
static void call_pickle(ckb_pickle *p, const char *module, const char *name, int stack_global)
{
    ckb_op(p, 0x80);
    ckb_op(p, 4);
    if (stack_global) {
        ckb_str(p, module);
        ckb_str(p, name);
        ckb_op(p, 0x93);
    } else {
        ckb_global(p, module, name);
    }
    ckb_str(p, "echo pwned > /tmp/sdc_pwned");
    ckb_op(p, 0x85);
    ckb_op(p, 'R');
    ckb_op(p, '.');
}

Test(ckpt, code_running_globals_are_refused_by_name)
{
    static const struct {
        const char *module, *name;
        int stack_global;
    } cases[] = {{"os", "system", 0}, {"builtins", "eval", 1}, {"posix", "system", 0},
                 {"subprocess", "Popen", 1}, {"mymodule", "Evil", 0},
                 {"torch._utils", "_rebuild_tensor_v2x", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ckb_pickle p = {0};
        call_pickle(&p, cases[i].module, cases[i].name, cases[i].stack_global);
        char expected[128];
        snprintf(expected, sizeof expected, "refused global '%s.%s'", cases[i].module,
                 cases[i].name);
        expect_pickle_refused(&p, expected);
        cr_assert_eq(ckb_write_zip(tmp("evil.ckpt"), "archive", &p, NULL, 0), 0);
        expect_refused(tmp("evil.ckpt"), expected);
        ckb_free(&p);
    }
    cr_expect_neq(access("/tmp/sdc_pwned", F_OK), 0);
}

Test(ckpt, calls_of_accepted_globals_are_checked)
{
    /* REDUCE of a storage class, of a string, NEWOBJ of the tensor rebuild function */
    ckb_pickle p = {0};
    ckb_global(&p, "torch", "FloatStorage");
    ckb_op(&p, ')');
    ckb_op(&p, 'R');
    ckb_op(&p, '.');
    expect_pickle_refused(&p, "REDUCE calls global 'torch.FloatStorage'");
    ckb_free(&p);

    ckb_str(&p, "os.system");
    ckb_op(&p, ')');
    ckb_op(&p, 'R');
    ckb_op(&p, '.');
    expect_pickle_refused(&p, "REDUCE calls a str");
    ckb_free(&p);

    ckb_global(&p, "torch._utils", "_rebuild_tensor_v2");
    ckb_op(&p, ')');
    ckb_op(&p, 0x81);
    ckb_op(&p, '.');
    expect_pickle_refused(&p, "NEWOBJ of global 'torch._utils._rebuild_tensor_v2'");
    ckb_free(&p);

    /* APPEND into a dict (Python would call a method), BUILD of a tensor */
    ckb_op(&p, '}');
    ckb_int(&p, 1);
    ckb_op(&p, 'a');
    ckb_op(&p, '.');
    expect_pickle_refused(&p, "APPEND into a dict");
    ckb_free(&p);

    ckb_tensor(&p, "FloatStorage", "0", 4, 0, 1, (int64_t[]){4}, NULL);
    ckb_op(&p, '}');
    ckb_op(&p, 'b');
    ckb_op(&p, '.');
    expect_pickle_refused(&p, "BUILD");
    ckb_free(&p);

    /* a persistent id that is no storage */
    ckb_str(&p, "file:///etc/passwd");
    ckb_op(&p, 'Q');
    ckb_op(&p, '.');
    expect_pickle_refused(&p, "persistent id");
    ckb_free(&p);
}

Test(ckpt, every_truncation_is_refused)
{
    ckb_pickle p = {0};
    lightning_pickle(&p, small_state_dict);
    sdc_pickle *pk;
    cr_assert_eq(sdc_pickle_load(p.data, p.len, "full.pkl", &pk), SDC_OK, "%s",
                 sdc_last_error());
    sdc_pickle_free(pk);
    for (size_t n = 0; n < p.len; n++) {
        pk = (sdc_pickle *)1;
        cr_expect_neq(sdc_pickle_load(p.data, n, "cut.pkl", &pk), SDC_OK, "prefix %zu", n);
        cr_expect_null(pk);
    }
    /* and in a checkpoint */
    ckb_pickle cut = {0};
    ckb_bytes(&cut, p.data, p.len / 2);
    cr_assert_eq(ckb_write_zip(tmp("cut.ckpt"), "archive", &cut, small_members, 2), 0);
    expect_refused(tmp("cut.ckpt"), "truncated");
    ckb_free(&cut);
    ckb_free(&p);
}

static void one_tensor(ckb_pickle *p, const char *cls, int64_t numel, int64_t offset, int ndim,
                       const int64_t *shape, const int64_t *stride)
{
    ckb_op(p, 0x80);
    ckb_op(p, 2);
    ckb_op(p, '}');
    ckb_str(p, "t");
    ckb_tensor(p, cls, "0", numel, offset, ndim, shape, stride);
    ckb_op(p, 's');
    ckb_op(p, '.');
}

static void expect_tensor_refused(const char *cls, int64_t numel, int64_t offset, int ndim,
                                  const int64_t *shape, const int64_t *stride,
                                  const char *needle)
{
    ckb_pickle p = {0};
    one_tensor(&p, cls, numel, offset, ndim, shape, stride);
    cr_assert_eq(ckb_write_zip(tmp("bad.ckpt"), "archive", &p, small_members, 1), 0);
    expect_refused(tmp("bad.ckpt"), needle);
    ckb_free(&p);
}

Test(ckpt, storage_bounds_and_huge_sizes_are_refused)
{
    /* view past the storage: offset 6 + 4 elements of 8 */
    expect_tensor_refused("FloatStorage", 8, 6, 1, (int64_t[]){4}, NULL, "reaches past");
    /* storage claims more elements than its member holds (8 floats = 32 bytes) */
    expect_tensor_refused("FloatStorage", 9, 0, 1, (int64_t[]){9}, NULL, "member holds 32");
    expect_tensor_refused("DoubleStorage", 8, 0, 1, (int64_t[]){8}, NULL, "member holds 32");
    /* huge declared shapes and storages, refused before any allocation */
    int64_t huge = (int64_t)1 << 40;
    expect_tensor_refused("FloatStorage", huge * 4, 0, 2, (int64_t[]){huge, huge}, NULL,
                          "reaches past");
    expect_tensor_refused("FloatStorage", INT64_MAX / 8, 0, 1, (int64_t[]){INT64_MAX / 8}, NULL,
                          "member holds");
    expect_tensor_refused("FloatStorage", INT64_MAX, 0, 1, (int64_t[]){1}, NULL,
                          "persistent id");
    expect_tensor_refused("FloatStorage", 8, 0, 2, (int64_t[]){INT64_MAX / 2, 4},
                          (int64_t[]){4, 1}, "reaches past");
    /* strides that do not make a contiguous tensor */
    expect_tensor_refused("FloatStorage", 8, 0, 2, (int64_t[]){2, 2}, (int64_t[]){1, 2},
                          "not contiguous");
    /* nine dimensions */
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    expect_tensor_refused("FloatStorage", 8, 0, 9, nine, nine, "at most 8");

    /* two tensors under one name (Python's dict would keep the last; sdc refuses) */
    ckb_pickle dup = {0};
    ckb_op(&dup, '}');
    ckb_op(&dup, '(');
    for (int i = 0; i < 2; i++) {
        ckb_str(&dup, "t");
        ckb_tensor(&dup, "FloatStorage", "0", 8, 0, 1, (int64_t[]){8}, NULL);
    }
    ckb_op(&dup, 'u');
    ckb_op(&dup, '.');
    cr_assert_eq(ckb_write_zip(tmp("dup.ckpt"), "archive", &dup, small_members, 1), 0);
    expect_refused(tmp("dup.ckpt"), "two tensors are named 't'");
    ckb_free(&dup);

    /* operands that claim more bytes than the pickle has */
    ckb_pickle p = {0};
    ckb_op(&p, 'X');
    ckb_u32(&p, 0xffffffffu);
    ckb_op(&p, '.');
    expect_pickle_refused(&p, "truncated");
    ckb_free(&p);
    ckb_op(&p, 0x8d); /* BINUNICODE8 of 2^63 bytes */
    ckb_bytes(&p, "\0\0\0\0\0\0\0\x80", 8);
    expect_pickle_refused(&p, "truncated");
    ckb_free(&p);
    /* a memo index far ahead */
    ckb_op(&p, 'N');
    ckb_op(&p, 'r');
    ckb_u32(&p, 0xfffffff0u);
    ckb_op(&p, '.');
    expect_pickle_refused(&p, "memo index");
    ckb_free(&p);
}

/* Patches the declared uncompressed size of a member in its local and central headers. */
static void patch_size(const char *path, const char *member, uint32_t size)
{
    FILE *f = fopen(path, "r+b");
    cr_assert(f);
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    size_t mlen = strlen(member);
    int patched = 0;
    for (size_t i = 0; i + 46 + mlen <= n; i++) {
        int local = memcmp(buf + i, "PK\3\4", 4) == 0 && memcmp(buf + i + 30, member, mlen) == 0;
        int central = memcmp(buf + i, "PK\1\2", 4) == 0 &&
                      memcmp(buf + i + 46, member, mlen) == 0;
        if (!local && !central)
            continue;
        size_t at = i + (local ? 22 : 24);
        for (int k = 0; k < 4; k++)
            buf[at + k] = (uint8_t)(size >> (8 * k));
        patched++;
    }
    cr_assert_eq(patched, 2);
    rewind(f);
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

Test(ckpt, decompression_bombs_and_broken_zips_are_refused)
{
    static uint8_t zeros[1 << 20];
    ckb_pickle p = {0};
    one_tensor(&p, "ByteStorage", sizeof zeros, 0, 1, (int64_t[]){sizeof zeros}, NULL);
    ckb_member m = {"data/0", zeros, sizeof zeros, 1};
    cr_assert_eq(ckb_write_zip(tmp("zeros.ckpt"), "archive", &p, &m, 1), 0);
    sdc_safetensors *st;
    cr_assert_eq(sdc_ckpt_open(tmp("zeros.ckpt"), &st), SDC_OK, "%s", sdc_last_error());
    sdc_safetensors_close(st);
    /* the same member claiming 4 GB: refused from the declared ratio, nothing allocated */
    patch_size(tmp("zeros.ckpt"), "archive/data/0", 0xfffffff0u);
    expect_refused(tmp("zeros.ckpt"), "archive/data/0");
    /* claiming 1 byte more than it holds: the inflated stream is shorter, found when the
     * tensor is first used (storages are inflated then) */
    cr_assert_eq(ckb_write_zip(tmp("zeros.ckpt"), "archive", &p, &m, 1), 0);
    patch_size(tmp("zeros.ckpt"), "archive/data/0", sizeof zeros + 1);
    cr_assert_eq(sdc_ckpt_open(tmp("zeros.ckpt"), &st), SDC_OK, "%s", sdc_last_error());
    const sdc_st_entry *e = sdc_safetensors_entry(st, 0);
    cr_expect_neq(sdc_safetensors_load(st, e->tensor.data, e->nbytes), SDC_OK);
    cr_expect(strstr(sdc_last_error(), "archive/data/0"), "%s", sdc_last_error());
    sdc_safetensors_close(st);
    ckb_free(&p);

    /* not a zip at all, a zip without data.pkl, pre-1.6 torch files */
    FILE *f = fopen(tmp("junk.ckpt"), "wb");
    fputs("PK\3\4 this is no zip archive", f);
    fclose(f);
    expect_refused(tmp("junk.ckpt"), "zip");
    ckb_op(&p, 'N');
    ckb_op(&p, '.');
    cr_assert_eq(ckb_write_zip(tmp("nopkl.ckpt"), "a/b", &p, NULL, 0), 0);
    expect_refused(tmp("nopkl.ckpt"), "data.pkl");
    ckb_free(&p);
    f = fopen(tmp("old.pt"), "wb");
    fwrite("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 1, 15, f);
    fclose(f);
    expect_refused(tmp("old.pt"), "pre-1.6");
    sdc_checkpoint *ck;
    cr_expect_neq(sdc_checkpoint_open(tmp("old.pt"), &ck), SDC_OK);
    cr_expect(strstr(sdc_last_error(), "pre-1.6"), "%s", sdc_last_error());
}

Test(ckpt, refused_checkpoints_fail_through_the_checkpoint_interface)
{
    ckb_pickle p = {0};
    call_pickle(&p, "os", "system", 0);
    cr_assert_eq(ckb_write_zip(tmp("evil.ckpt"), "archive", &p, NULL, 0), 0);
    ckb_free(&p);
    sdc_checkpoint *ck = (sdc_checkpoint *)1;
    cr_expect_neq(sdc_checkpoint_open(tmp("evil.ckpt"), &ck), SDC_OK);
    cr_expect_null(ck);
    cr_expect(strstr(sdc_last_error(), "refused global 'os.system'"), "%s", sdc_last_error());
}

/* ---- sdc convert ------------------------------------------------------------------ */

static sdc_checkpoint *open_ok(const char *path)
{
    sdc_checkpoint *ck;
    cr_assert_eq(sdc_checkpoint_open(path, &ck), SDC_OK, "%s", sdc_last_error());
    return ck;
}

Test(ckpt, convert_ckpt_keeps_every_tensor)
{
    ckb_pickle p = {0};
    write_small(tmp("small.ckpt"), &p);
    ckb_free(&p);
    sdc_convert_params params = sdc_convert_default_params();
    size_t n = 0;
    cr_assert_eq(sdc_checkpoint_convert(tmp("small.ckpt"), tmp("out.safetensors"), &params, &n),
                 SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(n, 4);
    sdc_safetensors *a, *b;
    cr_assert_eq(sdc_ckpt_open(tmp("small.ckpt"), &a), SDC_OK);
    cr_assert_eq(sdc_safetensors_open(tmp("out.safetensors"), &b), SDC_OK, "%s",
                 sdc_last_error());
    expect_same_tables(a, b);
    sdc_safetensors_close(a);
    sdc_safetensors_close(b);

    /* an existing output stays untouched without --overwrite */
    cr_expect_eq(sdc_checkpoint_convert(tmp("small.ckpt"), tmp("out.safetensors"), &params, &n),
                 SDC_ERR_IO);
    cr_expect(strstr(sdc_last_error(), "exists"), "%s", sdc_last_error());
    params.overwrite = 1;
    params.dtype = SDC_DTYPE_BF16;
    cr_assert_eq(sdc_checkpoint_convert(tmp("small.ckpt"), tmp("out.safetensors"), &params, &n),
                 SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_safetensors_open(tmp("out.safetensors"), &b), SDC_OK);
    const sdc_st_entry *e = sdc_safetensors_find(b, "model.diffusion_model.a.weight");
    cr_assert_not_null(e);
    cr_expect_eq(e->tensor.dtype, SDC_DTYPE_BF16);
    cr_expect_eq(sdc_bf16_to_f32(((const uint16_t *)e->tensor.data)[2]), 3.5f);
    sdc_safetensors_close(b);
}

static void expect_converted_like(const char *source, const char *twin)
{
    sdc_convert_params params = sdc_convert_default_params();
    params.overwrite = 1;
    cr_assert_eq(sdc_checkpoint_convert(golden_path(source), tmp("conv.safetensors"), &params,
                                        NULL),
                 SDC_OK, "%s", sdc_last_error());
    sdc_checkpoint *a = open_ok(tmp("conv.safetensors")), *b = open_ok(golden_path(twin));
    expect_same_model(a, b);
    cr_expect_eq(sdc_checkpoint_layout(a), SDC_LAYOUT_SINGLE_FILE);
    cr_expect_eq(sdc_checkpoint_unused_count(a), 0);
    sdc_checkpoint_close(a);
    sdc_checkpoint_close(b);
}

Test(ckpt, convert_diffusers_folders_to_single_files)
{
    /* the converted file behaves exactly like the folder (family, text layers, prediction) */
    expect_converted_like("models/tiny-sd1/diffusers", "models/tiny-sd1/diffusers");
    expect_converted_like("models/tiny-sd2v/diffusers", "models/tiny-sd2v/diffusers");
    expect_converted_like("models/tiny-sd1-inpaint/diffusers",
                          "models/tiny-sd1-inpaint/diffusers");
    /* an SDXL folder would need its second encoder back in OpenCLIP names: refused by name */
    size_t tensors = 0;
    cr_expect_eq(sdc_convert(golden_path("models/tiny-sdxl/diffusers"), tmp("xl.safetensors"),
                             "f16", 1, NULL, NULL, &tensors),
                 SDC_ERR_UNSUPPORTED);
    cr_expect(strstr(sdc_last_error(), "SDXL"), "%s", sdc_last_error());
    cr_expect_neq(access(tmp("xl.safetensors"), F_OK), 0, "a refused conversion wrote a file");
    /* the VAE attention projections are convs again, as in the LDM file */
    sdc_safetensors *st;
    cr_assert_eq(sdc_safetensors_open(tmp("conv.safetensors"), &st), SDC_OK);
    const sdc_st_entry *e = sdc_safetensors_find(st, "first_stage_model.decoder.mid.attn_1.q.weight");
    cr_assert_not_null(e);
    cr_expect_eq(e->tensor.ndim, 4);
    sdc_safetensors_close(st);
}

static int stop_at_third(const char *stage, int step, int steps, void *user_data)
{
    (void)stage, (void)steps, (void)user_data;
    return step == 3;
}

Test(ckpt, convert_leaves_nothing_behind_on_failure)
{
    sdc_convert_params params = sdc_convert_default_params();
    params.progress = stop_at_third;
    const char *in = golden_path("models/tiny-sd1/model.safetensors");
    cr_expect_eq(sdc_checkpoint_convert(in, tmp("stopped.safetensors"), &params, NULL),
                 SDC_ERR_INTERRUPTED);
    /* a full disk, as far as this process can tell (works as root too): writes past 64 KB
     * fail with EFBIG */
    params.progress = NULL;
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {64 << 10, 64 << 10};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    cr_expect_eq(sdc_checkpoint_convert(in, tmp("full.safetensors"), &params, NULL), SDC_ERR_IO);
    cr_expect(strstr(sdc_last_error(), "full.safetensors"), "%s", sdc_last_error());
    /* a folder that does not exist */
    cr_expect_eq(sdc_checkpoint_convert(in, tmp("none/out.safetensors"), &params, NULL),
                 SDC_ERR_IO);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", tmp_dir);
    cr_expect_eq(system(cmd), 0, "files were left behind");
}

/* Resident memory of this process, in bytes. */
static size_t resident_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert(f);
    cr_assert_eq(fscanf(f, "%ld %ld", &pages, &resident), 2);
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Issue 23: a compressed storage is inflated only when its tensor is used, so opening a
 * small file (or `sdc info` on it) never costs the inflated size. */
Test(ckpt, compressed_storages_are_inflated_on_first_use)
{
    enum { SIZE = 32 << 20 };
    uint8_t *zeros = calloc(1, SIZE);
    cr_assert(zeros);
    ckb_pickle p = {0};
    one_tensor(&p, "ByteStorage", SIZE, 0, 1, (int64_t[]){SIZE}, NULL);
    ckb_member m = {"data/0", zeros, SIZE, 1};
    cr_assert_eq(ckb_write_zip(tmp("lazy.ckpt"), "archive", &p, &m, 1), 0);
    ckb_free(&p);
    free(zeros);
    size_t before = resident_bytes();
    sdc_safetensors *st;
    cr_assert_eq(sdc_ckpt_open(tmp("lazy.ckpt"), &st), SDC_OK, "%s", sdc_last_error());
    size_t opened = resident_bytes();
    cr_expect_lt(opened, before + (SIZE >> 2), "opening took %zu bytes", opened - before);
    const sdc_st_entry *e = sdc_safetensors_entry(st, 0);
    cr_assert_eq(sdc_safetensors_load(st, e->tensor.data, e->nbytes), SDC_OK, "%s",
                 sdc_last_error());
    const uint8_t *data = e->tensor.data;
    cr_expect_eq(data[0] + data[SIZE - 1], 0);
    cr_expect_gt(resident_bytes(), before + (SIZE >> 1), "the tensor was not inflated");
    sdc_safetensors_close(st);
}
