/* GGUF reader: the golden files' tensors expand bit for bit to ggml's own dequantisation,
 * crafted files round-trip, and every kind of malformed file is refused with a one-line
 * message naming the file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/nn.h"
#include "ops/quant.h"
#include "tests/gguf_build.h"
#include "tests/golden.h"
#include "weights/gguf.h"
#include "weights/checkpoint.h"
#include "weights/gguf_table.h"
#include "weights/layer_load.h"
#include "weights/sha256.h"

static char tmp_path[256];

static void write_raw(const void *bytes, size_t n)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/sdc_test_gguf_%d.gguf", (int)getpid());
    FILE *f = fopen(tmp_path, "wb");
    cr_assert(f);
    if (n)
        cr_assert_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

static void expect_refused(const char *fragment)
{
    sdc_gguf *g = (sdc_gguf *)1;
    sdc_status s = sdc_gguf_open(tmp_path, &g);
    cr_expect_neq(s, SDC_OK, "file was accepted (expected '%s')", fragment);
    cr_expect_null(g);
    const char *msg = sdc_last_error();
    cr_expect(strstr(msg, tmp_path) != NULL, "message does not name the file: %s", msg);
    cr_expect(strstr(msg, fragment) != NULL, "message '%s' lacks '%s'", msg, fragment);
    cr_expect(strchr(msg, '\n') == NULL, "message is not one line");
    unlink(tmp_path);
}

/* --- golden: every tensor's expansion hashes like ggml's --- */

static void check_tensor(const sdc_gguf *g, json_t *want, size_t index)
{
    const char *name = json_string_value(json_object_get(want, "name"));
    const sdc_gguf_tensor *t = sdc_gguf_tensor_at(g, index);
    cr_assert(t && strcmp(t->name, name) == 0, "tensor %zu is not '%s'", index, name);
    cr_expect_str_eq(sdc_qtype_name(t->type),
                     json_string_value(json_object_get(want, "ggml_type")), "%s", name);
    json_t *shape = json_object_get(want, "shape");
    cr_assert_eq(json_array_size(shape), (size_t)t->ndim, "%s: dimensions", name);
    for (int i = 0; i < t->ndim; i++) /* PyTorch order: ggml's ne[] reversed */
        cr_expect_eq(json_integer_value(json_array_get(shape, (size_t)i)), t->ne[t->ndim - 1 - i],
                     "%s: dimension %d", name, i);
    float *f = malloc((size_t)t->numel * sizeof *f + 1);
    cr_assert(f);
    sdc_gguf_expand(t, f);
    json_t *first = json_object_get(want, "first");
    for (size_t i = 0; i < json_array_size(first) && i < (size_t)t->numel; i++)
        cr_expect_eq(f[i], (float)json_real_value(json_array_get(first, i)), "%s[%zu]", name, i);
    sdc_sha256 ctx;
    uint8_t digest[32];
    char hex[65];
    sdc_sha256_init(&ctx);
    sdc_sha256_update(&ctx, f, (size_t)t->numel * sizeof *f); /* little-endian host */
    sdc_sha256_final(&ctx, digest);
    sdc_sha256_hex(digest, hex);
    cr_expect_str_eq(hex, json_string_value(json_object_get(want, "sha256_f32_le")), "%s", name);
    free(f);
}

/* golden_path of a file of the gguf set */
static const char *set_path(json_t *c, const char *key)
{
    char rel[512];
    snprintf(rel, sizeof rel, "gguf/%s", json_string_value(json_object_get(c, key)));
    return golden_path(rel);
}

static void check_dequant_case(json_t *c)
{
    json_error_t err;
    json_t *cases = json_load_file(set_path(c, "file"), 0, &err);
    cr_assert(cases, "%s", err.text);
    sdc_gguf *g;
    const char *file = set_path(c, "gguf");
    cr_assert_eq(sdc_gguf_open(file, &g), SDC_OK, "%s", sdc_last_error());
    json_t *tensors = json_object_get(cases, "tensors");
    cr_assert_eq(json_array_size(tensors), sdc_gguf_count(g));
    for (size_t i = 0; i < json_array_size(tensors); i++)
        check_tensor(g, json_array_get(tensors, i), i);
    sdc_gguf_close(g);
    json_decref(cases);
}

Test(gguf, golden_tensors_expand_like_ggml)
{
    golden_dir();
    json_t *m = golden_set_manifest("gguf");
    int checked = 0;
    for (size_t i = 0; i < json_array_size(json_object_get(m, "cases")); i++) {
        json_t *c = json_array_get(json_object_get(m, "cases"), i);
        if (strcmp(json_string_value(json_object_get(c, "kind")), "gguf_dequant") == 0) {
            check_dequant_case(c);
            checked++;
        }
    }
    json_decref(m);
    cr_expect_geq(checked, 2);
}

/* --- crafted files --- */

static void write_example(void)
{
    gguf_build b;
    gb_example(&b);
    write_raw(b.buf, b.len);
    gb_free(&b);
}

Test(gguf, example_round_trips)
{
    write_example();
    sdc_gguf *g;
    cr_assert_eq(sdc_gguf_open(tmp_path, &g), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_gguf_count(g), 2);
    cr_expect_eq(sdc_gguf_version(g), 3);
    cr_assert_eq(sdc_gguf_kv_count(g), 1);
    cr_expect_str_eq(sdc_gguf_kv_at(g, 0)->key, "general.name");
    cr_expect_str_eq(sdc_gguf_kv_at(g, 0)->value, "\"tiny\"");
    const sdc_gguf_tensor *b = sdc_gguf_tensor_at(g, 1);
    cr_expect_eq(b->numel, 64);
    float f[64];
    sdc_gguf_expand(b, f);
    for (int i = 0; i < 64; i++)
        cr_expect_eq(f[i], 0.5f * (float)(i - 32));
    sdc_gguf_close(g);
    unlink(tmp_path);
}

Test(gguf, table_reverses_shapes_and_expands_on_first_use)
{
    write_example();
    sdc_safetensors *st;
    cr_assert_eq(sdc_gguf_open_table(tmp_path, &st), SDC_OK, "%s", sdc_last_error());
    const sdc_st_entry *a = sdc_safetensors_find(st, "a"), *b = sdc_safetensors_find(st, "b");
    cr_assert(a && b);
    cr_expect_eq(a->tensor.dtype, SDC_DTYPE_F32);
    cr_expect(a->tensor.shape[0] == 2 && a->tensor.shape[1] == 4);
    cr_expect_eq(((const float *)a->tensor.data)[7], 7.0f);
    cr_expect_eq(b->tensor.dtype, SDC_DTYPE_F32);
    cr_expect(b->tensor.shape[0] == 2 && b->tensor.shape[1] == 32);
    cr_assert_eq(sdc_safetensors_load(st, b->tensor.data, b->nbytes), SDC_OK);
    cr_expect_eq(((const float *)b->tensor.data)[63], 15.5f);
    sdc_safetensors_close(st);
    unlink(tmp_path);
}

Test(gguf, every_truncation_is_refused)
{
    gguf_build b;
    gb_example(&b);
    for (size_t n = 0; n < b.len; n++) {
        write_raw(b.buf, n);
        sdc_gguf *g;
        cr_expect_neq(sdc_gguf_open(tmp_path, &g), SDC_OK, "a %zu-byte prefix was accepted", n);
        cr_expect(strstr(sdc_last_error(), tmp_path) != NULL, "%s", sdc_last_error());
    }
    gb_free(&b);
    unlink(tmp_path);
}

/* One f32 tensor "t" of dims `ne` and type `type` at `offset`, with `data` bytes of data. */
static void write_one(int ndim, const uint64_t *ne, uint32_t type, uint64_t offset, size_t data)
{
    gguf_build b = {0};
    gb_header(&b, 3, 1, 0);
    gb_tensor(&b, "t", ndim, ne, type, offset);
    gb_pad(&b, 32);
    for (size_t i = 0; i < data; i++)
        gb_bytes(&b, "\x01", 1);
    write_raw(b.buf, b.len);
    gb_free(&b);
}

Test(gguf, bad_tensors_are_refused)
{
    write_one(1, (const uint64_t[]){4}, 99, 0, 16);
    expect_refused("unknown ggml type 99");
    write_one(1, (const uint64_t[]){256}, 16, 0, 1024);
    expect_refused("ggml type iq2_xxs, which sdc does not read");
    write_one(3, (const uint64_t[]){1u << 30, 1u << 30, 1u << 30}, 0, 0, 16);
    expect_refused("overflows");
    write_one(1, (const uint64_t[]){33}, 8, 0, 64);
    expect_refused("not a whole number of q8_0 blocks (32)");
    write_one(1, (const uint64_t[]){8}, 0, 0, 16);
    expect_refused("outside the file");
    write_one(1, (const uint64_t[]){4}, 0, 1ull << 62, 16);
    expect_refused("outside the file");
    write_one(1, (const uint64_t[]){4}, 0, 4, 64);
    expect_refused("not a multiple of the alignment");
    write_one(5, (const uint64_t[]){1, 1, 1, 1, 1}, 0, 0, 16);
    expect_refused("5 dimensions");
}

Test(gguf, overlapping_and_duplicate_tensors_are_refused)
{
    gguf_build b = {0};
    gb_header(&b, 3, 2, 0);
    gb_tensor(&b, "x", 1, (const uint64_t[]){16}, 0, 0);
    gb_tensor(&b, "y", 1, (const uint64_t[]){16}, 0, 32);
    gb_pad(&b, 32);
    for (int i = 0; i < 96; i++)
        gb_bytes(&b, "\0", 1);
    write_raw(b.buf, b.len);
    gb_free(&b);
    expect_refused("overlap");
    b = (gguf_build){0};
    gb_header(&b, 3, 2, 0);
    gb_tensor(&b, "x", 1, (const uint64_t[]){8}, 0, 0);
    gb_tensor(&b, "x", 1, (const uint64_t[]){8}, 0, 32);
    gb_pad(&b, 32);
    for (int i = 0; i < 64; i++)
        gb_bytes(&b, "\0", 1);
    write_raw(b.buf, b.len);
    gb_free(&b);
    expect_refused("two tensors are named 'x'");
}

Test(gguf, bad_headers_are_refused)
{
    gguf_build b = {0};
    gb_header(&b, 1, 0, 0);
    write_raw(b.buf, b.len);
    gb_free(&b);
    expect_refused("GGUF version 1");
    gb_header(&b, 3, 1ull << 40, 0);
    write_raw(b.buf, b.len);
    gb_free(&b);
    expect_refused("more than the file can hold");
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, 13);
    write_raw(b.buf, b.len);
    gb_free(&b);
    expect_refused("unknown value type 13");
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, 9);
    gb_u32(&b, 9);
    gb_u64(&b, 1);
    write_raw(b.buf, b.len);
    gb_free(&b);
    expect_refused("nested");
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "general.alignment");
    gb_u32(&b, 4);
    gb_u32(&b, 24);
    write_raw(b.buf, b.len);
    gb_free(&b);
    expect_refused("general.alignment");
    write_raw("GGML\3\0\0\0", 8);
    expect_refused("truncated");
    gb_header(&b, 3, 0, 0);
    b.buf[0] = 'X';
    write_raw(b.buf, b.len);
    gb_free(&b);
    expect_refused("no 'GGUF' magic");
}

/* --- quantised weights in the GEMM --- */


/* A [rows, cols] weight of ggml type `id` over random blocks (caller frees w->data). */
static void random_blocked(sdc_weight *w, uint32_t id, int rows, int cols, unsigned seed)
{
    const sdc_qtype_info *q = sdc_qtype_get(id);
    size_t bytes = (size_t)rows * (size_t)(cols / q->block) * (size_t)q->block_bytes;
    unsigned char *b = malloc(bytes);
    cr_assert(b);
    for (size_t i = 0; i < bytes; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (unsigned char)(seed >> 16);
        if ((seed >> 8) % 5 == 0)
            b[i] &= 0x3b; /* keeps many half scales small and finite */
    }
    *w = (sdc_weight){.rows = rows, .cols = cols, .dtype = SDC_DTYPE_F32, .data = b, .quant = q};
}

static float *random_floats(size_t n)
{
    float *x = malloc(n * sizeof *x);
    cr_assert(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i * 7919u) % 2003u) / 1001.0f - 1.0f;
    return x;
}

static const uint32_t readable[] = {2, 3, 6, 7, 8, 10, 11, 12, 13, 14};

/* The GEMM packs the blocks expanded: exactly what it computes on the expanded f32 weight. */
Test(gguf, linear_on_blocks_equals_linear_on_the_expansion)
{
    enum { M = 19, N = 37, K = 768 };
    float *x = random_floats((size_t)M * K), *bias = random_floats(N);
    for (size_t t = 0; t < sizeof readable / sizeof *readable; t++) {
        sdc_weight wq, wf;
        random_blocked(&wq, readable[t], N, K, 7u + (unsigned)t);
        cr_assert_eq(sdc_weight_own_f32(&wf, &wq), SDC_OK);
        float y1[M * N], y2[M * N];
        sdc_linear(y1, x, M, &wq, bias);
        sdc_linear(y2, x, M, &wf, bias);
        cr_expect(memcmp(y1, y2, sizeof y1) == 0, "%s: linear differs", wq.quant->name);
        float row[K];
        sdc_weight_row_f32(&wq, 5, row);
        cr_expect(memcmp(row, (const float *)wf.data + 5 * K, sizeof row) == 0, "%s: row 5",
                  wq.quant->name);
        free((void *)wq.data);
        sdc_weight_free(&wf);
    }
    free(x);
    free(bias);
}

Test(gguf, conv1x1_on_blocks_equals_conv_on_the_expansion)
{
    enum { B = 2, C = 256, H = 3, W = 5, CO = 9 };
    float *x = random_floats((size_t)B * C * H * W);
    for (size_t t = 0; t < sizeof readable / sizeof *readable; t++) {
        sdc_weight wq, wf;
        random_blocked(&wq, readable[t], CO, C, 11u + (unsigned)t);
        cr_assert_eq(sdc_weight_own_f32(&wf, &wq), SDC_OK);
        float y1[B * CO * H * W], y2[B * CO * H * W];
        sdc_conv2d(y1, x, B, C, H, W, &wq, NULL, 1, 1, 0, NULL);
        sdc_conv2d(y2, x, B, C, H, W, &wf, NULL, 1, 1, 0, NULL);
        cr_expect(memcmp(y1, y2, sizeof y1) == 0, "%s: conv differs", wq.quant->name);
        free((void *)wq.data);
        sdc_weight_free(&wf);
    }
    free(x);
}

/* A GGUF file's quantised linear weights are views of its blocks, never expanded. */
Test(gguf, linear_weights_of_a_gguf_model_stay_blocks)
{
    golden_dir();
    sdc_checkpoint *ck;
    cr_assert_eq(sdc_checkpoint_open(golden_path("gguf/tiny-sd1.q4_0.gguf"), &ck), SDC_OK, "%s",
                 sdc_last_error());
    sdc_layer_source src = {.ck = ck, .component = SDC_COMPONENT_UNET, .what = "unet",
                            .max_dim = 1 << 16};
    sdc_weight w;
    int in;
    cr_assert_eq(sdc_layer_weight_load(&src, "input_blocks.1.1.transformer_blocks.0.attn1",
                                       "to_q", -1, 1, &w, &in), SDC_OK, "%s", sdc_last_error());
    cr_expect(w.quant && strcmp(w.quant->name, "q4_0") == 0);
    const sdc_tensor *t = sdc_checkpoint_peek(ck, SDC_COMPONENT_UNET,
                                              "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight");
    cr_assert(t);
    cr_expect_eq(w.data, t->blocks);
    sdc_weight_free(&w);
    sdc_checkpoint_close(ck);
}

/* --- sdc convert --type q8_0 / q4_0 --- */

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*n + 1);
    cr_assert(b && fread(b, 1, *n, f) == *n);
    fclose(f);
    return b;
}

/* The golden GGUF files are stable-diffusion.cpp's conversions of the tiny model: sdc's own
 * conversion of that model is the same file, byte for byte. */
static void expect_same_conversion(const char *type, const char *golden)
{
    golden_dir();
    char out[256];
    snprintf(out, sizeof out, "/tmp/sdc_test_gguf_%d.%s.gguf", (int)getpid(), type);
    size_t count = 0;
    cr_assert_eq(sdc_convert(golden_path("models/tiny-sd1/model.safetensors"), out, type, 1, NULL,
                             NULL, &count),
                 SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(count, 981);
    size_t na, nb;
    uint8_t *a = slurp(out, &na), *b = slurp(golden_path(golden), &nb);
    cr_expect(na == nb && memcmp(a, b, na) == 0, "%s: conversion differs from %s", type, golden);
    free(a);
    free(b);
    unlink(out);
}

Test(gguf, convert_q8_0_is_stable_diffusion_cpps_file)
{
    expect_same_conversion("q8_0", "gguf/tiny-sd1.q8_0.gguf");
}

Test(gguf, convert_q4_0_is_stable_diffusion_cpps_file)
{
    expect_same_conversion("q4_0", "gguf/tiny-sd1.q4_0.gguf");
}

Test(gguf, convert_refuses_types_it_does_not_write)
{
    static const char *const refused[] = {"q8_K", "iq4_nl", "q8_1", "f64", "q4"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        cr_expect_eq(sdc_convert("/nonexistent", "/tmp/x.gguf", refused[i], 1, NULL, NULL, NULL),
                     SDC_ERR_ARG, "%s", refused[i]);
        cr_expect(strstr(sdc_last_error(), "q5_K or q6_K") != NULL, "%s", sdc_last_error());
    }
}

/* Whether two files hold the same bytes. */
static int same_bytes(const char *x, const char *y)
{
    size_t na, nb;
    uint8_t *a = slurp(x, &na), *b = slurp(y, &nb);
    int same = na == nb && memcmp(a, b, na) == 0;
    free(a);
    free(b);
    return same;
}

/* A diffusers folder converts to the GGUF file its single-file conversion converts to. */
static void expect_folder_like_single_file(const char *model, const char *type)
{
    golden_dir();
    char folder[256], st[256], via[256], direct[256];
    snprintf(folder, sizeof folder, "models/%s/diffusers", model);
    snprintf(st, sizeof st, "/tmp/sdc_test_gguf_%d.%s.safetensors", (int)getpid(), model);
    snprintf(via, sizeof via, "/tmp/sdc_test_gguf_%d.%s.via.gguf", (int)getpid(), model);
    snprintf(direct, sizeof direct, "/tmp/sdc_test_gguf_%d.%s.gguf", (int)getpid(), model);
    size_t n_via = 0, n_direct = 0;
    cr_assert_eq(sdc_convert(golden_path(folder), st, NULL, 1, NULL, NULL, NULL), SDC_OK, "%s",
                 sdc_last_error());
    cr_assert_eq(sdc_convert(st, via, type, 1, NULL, NULL, &n_via), SDC_OK, "%s",
                 sdc_last_error());
    cr_assert_eq(sdc_convert(golden_path(folder), direct, type, 1, NULL, NULL, &n_direct), SDC_OK,
                 "%s", sdc_last_error());
    cr_expect_eq(n_direct, n_via);
    cr_expect(same_bytes(direct, via), "%s %s: folder -> GGUF differs from folder -> "
              ".safetensors -> GGUF", model, type);
    unlink(st);
    unlink(via);
    unlink(direct);
}

Test(gguf, convert_folder_equals_converting_its_single_file)
{
    expect_folder_like_single_file("tiny-sd1", "q8_0");
    expect_folder_like_single_file("tiny-sd1", "q4_K"); /* rows of 256: few tensors quantised */
    expect_folder_like_single_file("tiny-sd2v", "q4_0");
    expect_folder_like_single_file("tiny-sd1-inpaint", "q5_1");
}

/* A folder that is no diffusers model, or an SDXL one: refused naming it, nothing written. */
Test(gguf, convert_refuses_folders_it_cannot_read)
{
    golden_dir();
    char dir[] = "/tmp/sdc_test_gguf_dir_XXXXXX", out[300];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    cr_expect_eq(sdc_convert(dir, out, "q8_0", 0, NULL, NULL, NULL), SDC_ERR_FORMAT);
    cr_expect(strstr(sdc_last_error(), dir) && strstr(sdc_last_error(), "model_index.json"), "%s",
              sdc_last_error());
    cr_expect_eq(sdc_convert(golden_path("models/tiny-sdxl/diffusers"), out, "q8_0", 0, NULL,
                             NULL, NULL),
                 SDC_ERR_UNSUPPORTED);
    cr_expect(strstr(sdc_last_error(), "SDXL"), "%s", sdc_last_error());
    cr_expect_eq(rmdir(dir), 0, "a refused conversion left a file in %s", dir);
}
