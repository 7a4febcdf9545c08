/* The UNet against golden/unet/<model>.safetensors (diffusers UNet2DConditionModel outputs for
 * batch 1, the CFG batch, two different latents, an odd latent size and a 154-token context)
 * and against the UNet calls recorded in whole sampling trajectories. Each model is loaded
 * from its single file and from its diffusers folder. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/winograd.h"
#include "tests/golden.h"
#include "unet/unet.h"

static const char *const timestep_names[] = {"1", "250", "999", "499p5"};
static const float timesteps[] = {1.0f, 250.0f, 999.0f, 499.5f};

typedef struct loaded {
    sdc_checkpoint *ck;
    sdc_unet *unet;
} loaded;

static loaded load_model(const char *rel)
{
    loaded m = {0};
    sdc_status s = sdc_checkpoint_open(golden_path(rel), &m.ck);
    cr_assert_eq(s, SDC_OK, "open %s: %s", rel, sdc_last_error());
    s = sdc_unet_load(m.ck, &m.unet);
    cr_assert_eq(s, SDC_OK, "unet load %s: %s", rel, sdc_last_error());
    return m;
}

static void unload(loaded *m)
{
    sdc_unet_free(m->unet);
    sdc_checkpoint_close(m->ck);
}

/* cat(a [na], b [nb]) */
static float *concat(const float *a, size_t na, const float *b, size_t nb)
{
    float *y = malloc((na + nb) * sizeof *y);
    cr_assert(y);
    memcpy(y, a, na * sizeof *y);
    memcpy(y + na, b, nb * sizeof *y);
    return y;
}

static size_t numel(const sdc_st_entry *e) { return (size_t)sdc_tensor_numel(&e->tensor); }

/* Runs the UNet and compares with `want` at the manifest tolerance of case_id. */
static void check_forward(sdc_unet *u, const char *case_id, const float *x, int B, int h, int w,
                          float t, const float *context, int T, const sdc_st_entry *want)
{
    size_t n = (size_t)B * sdc_unet_out_channels(u) * h * w;
    cr_assert_eq(n, numel(want), "%s: output size %zu, golden %zu", want->name, n, numel(want));
    float *out = malloc(n * sizeof *out);
    cr_assert(out);
    sdc_status s = sdc_unet_forward(u, x, B, h, w, t,
                                    &(sdc_unet_cond){.context = context, .tokens = T}, out);
    cr_assert_eq(s, SDC_OK, "%s forward: %s", want->name, sdc_last_error());
    double d = expect_close(out, want, golden_tol(case_id, want->name), case_id);
    cr_log_info("%s %s: max |diff| %.3g", case_id, want->name, d);
    free(out);
}

typedef struct unet_case {
    sdc_safetensors *st;
    const char *id;
    const sdc_st_entry *x, *x_pair, *x_odd, *cond, *uncond, *context_long;
    int c_in, h, w, ctx_T, ctx_D;
} unet_case;

static unet_case open_case(const char *model)
{
    unet_case c = {0};
    static char id[64], rel[96];
    snprintf(id, sizeof id, "unet.%s", model);
    snprintf(rel, sizeof rel, "unet/%s.safetensors", model);
    c.id = id;
    c.st = golden_open(rel);
    c.x = golden_get(c.st, "x");
    c.x_pair = golden_get(c.st, "x_pair");
    c.x_odd = golden_get(c.st, "x_odd");
    c.cond = golden_get(c.st, "context_cond");
    c.uncond = golden_get(c.st, "context_uncond");
    c.context_long = golden_get(c.st, "context_long");
    c.c_in = (int)c.x->tensor.shape[1];
    c.h = (int)c.x->tensor.shape[2];
    c.w = (int)c.x->tensor.shape[3];
    c.ctx_T = (int)c.cond->tensor.shape[1];
    c.ctx_D = (int)c.cond->tensor.shape[2];
    return c;
}

static const sdc_st_entry *expected(const unet_case *c, const char *kind, const char *t)
{
    char name[64];
    snprintf(name, sizeof name, "out_%s.t%s", kind, t);
    return golden_get(c->st, name);
}

static void check_structure(const unet_case *c, sdc_unet *u)
{
    cr_expect_eq(sdc_unet_in_channels(u), c->c_in, "in_channels");
    cr_expect_eq(sdc_unet_out_channels(u), 4, "out_channels");
    cr_expect_eq(sdc_unet_context_dim(u), c->ctx_D, "context_dim");
}

/* out_b1 and out_b2 at every timestep. */
static void check_batches(const unet_case *c, sdc_unet *u)
{
    float *x = golden_f32(c->x), *cond = golden_f32(c->cond), *uncond = golden_f32(c->uncond);
    size_t nx = numel(c->x), nc = numel(c->cond);
    float *x2 = concat(x, nx, x, nx), *ctx2 = concat(uncond, nc, cond, nc);
    for (size_t i = 0; i < sizeof timesteps / sizeof *timesteps; i++) {
        check_forward(u, c->id, x, 1, c->h, c->w, timesteps[i], cond, c->ctx_T,
                      expected(c, "b1", timestep_names[i]));
        check_forward(u, c->id, x2, 2, c->h, c->w, timesteps[i], ctx2, c->ctx_T,
                      expected(c, "b2", timestep_names[i]));
    }
    free(x), free(cond), free(uncond), free(x2), free(ctx2);
}

/* out_pair (two latents), out_odd (18 x 10 latent), out_long (154 tokens) at t = 250. */
static void check_shapes(const unet_case *c, sdc_unet *u)
{
    float *cond = golden_f32(c->cond), *uncond = golden_f32(c->uncond);
    size_t nc = numel(c->cond);
    float *ctx2 = concat(uncond, nc, cond, nc);
    float *pair = golden_f32(c->x_pair), *odd = golden_f32(c->x_odd), *x = golden_f32(c->x);
    float *ctx_long = golden_f32(c->context_long);
    check_forward(u, c->id, pair, 2, c->h, c->w, 250.0f, ctx2, c->ctx_T,
                  expected(c, "pair", "250"));
    check_forward(u, c->id, odd, 1, (int)c->x_odd->tensor.shape[2],
                  (int)c->x_odd->tensor.shape[3], 250.0f, cond, c->ctx_T,
                  expected(c, "odd", "250"));
    check_forward(u, c->id, x, 1, c->h, c->w, 250.0f, ctx_long,
                  (int)c->context_long->tensor.shape[1], expected(c, "long", "250"));
    free(cond), free(uncond), free(ctx2), free(pair), free(odd), free(x), free(ctx_long);
}

static void check_model(const char *model, const char *layout)
{
    char rel[128];
    snprintf(rel, sizeof rel, "models/%s/%s", model, layout);
    unet_case c = open_case(model);
    loaded m = load_model(rel);
    check_structure(&c, m.unet);
    check_batches(&c, m.unet);
    check_shapes(&c, m.unet);
    unload(&m);
    sdc_safetensors_close(c.st);
}

Test(unet, tiny_sd1) { check_model("tiny-sd1", "model.safetensors"); }
Test(unet, tiny_sd1_inpaint) { check_model("tiny-sd1-inpaint", "model.safetensors"); }
Test(unet, tiny_sd2v) { check_model("tiny-sd2v", "model.safetensors"); }
Test(unet, tiny_sd1_diffusers) { check_model("tiny-sd1", "diffusers"); }
Test(unet, tiny_sd1_inpaint_diffusers) { check_model("tiny-sd1-inpaint", "diffusers"); }
Test(unet, tiny_sd2v_diffusers) { check_model("tiny-sd2v", "diffusers"); }

/* These latents are too small for the automatic choice to take Winograd for the UNet's 3x3
 * convolutions (ops/winograd.h): the same goldens with it forced on every one. */
static void restore_conv_algo(void) { sdc_conv_algo_set(SDC_CONV_AUTO); }

Test(unet, tiny_sd1_winograd, .fini = restore_conv_algo)
{
    sdc_conv_algo_set(SDC_CONV_WINOGRAD);
    check_model("tiny-sd1", "model.safetensors");
}

Test(unet, tiny_sd2v_winograd, .fini = restore_conv_algo)
{
    sdc_conv_algo_set(SDC_CONV_WINOGRAD);
    check_model("tiny-sd2v", "model.safetensors");
}

Test(unet, tiny_sd1_inpaint_winograd, .fini = restore_conv_algo)
{
    sdc_conv_algo_set(SDC_CONV_WINOGRAD);
    check_model("tiny-sd1-inpaint", "model.safetensors");
}

/* Every UNet call of a trajectory: unet<i>.input / .t -> unet<i>.output with `context`. */
static void check_trajectory(const char *case_id, const char *model)
{
    char rel[128], name[64];
    snprintf(rel, sizeof rel, "trajectories/%s.safetensors", case_id);
    sdc_safetensors *st = golden_open(rel);
    snprintf(rel, sizeof rel, "models/%s/model.safetensors", model);
    loaded m = load_model(rel);
    const sdc_st_entry *ctx_e = golden_get(st, "context");
    float *ctx = golden_f32(ctx_e);
    int calls = 0;
    for (int i = 0;; i++, calls++) {
        snprintf(name, sizeof name, "unet%d.input", i);
        const sdc_st_entry *in_e = sdc_safetensors_find(st, name);
        if (!in_e)
            break;
        snprintf(name, sizeof name, "unet%d.t", i);
        float *t = golden_f32(golden_get(st, name));
        snprintf(name, sizeof name, "unet%d.output", i);
        const sdc_st_entry *out_e = golden_get(st, name);
        float *x = golden_f32(in_e);
        const int64_t *sh = in_e->tensor.shape;
        cr_assert_eq(sh[0], ctx_e->tensor.shape[0], "%s: batch of unet%d vs context", case_id, i);
        check_forward(m.unet, case_id, x, (int)sh[0], (int)sh[2], (int)sh[3], t[0], ctx,
                      (int)ctx_e->tensor.shape[1], out_e);
        free(x), free(t);
    }
    cr_expect(calls > 0, "%s has no unet calls", case_id);
    free(ctx);
    unload(&m);
    sdc_safetensors_close(st);
}

Test(unet, trajectory_sd1_ddim) { check_trajectory("txt2img.tiny-sd1.ddim", "tiny-sd1"); }
Test(unet, trajectory_sd1_euler) { check_trajectory("txt2img.tiny-sd1.euler", "tiny-sd1"); }
Test(unet, trajectory_sd2v_euler) { check_trajectory("txt2img.tiny-sd2v.euler", "tiny-sd2v"); }
Test(unet, trajectory_inpaint_ddim)
{
    check_trajectory("inpaint.tiny-sd1-inpaint.ddim", "tiny-sd1-inpaint");
}

/* Bad arguments are refused with a message, and the model stays usable. */
Test(unet, rejects_bad_arguments)
{
    loaded m = load_model("models/tiny-sd1/model.safetensors");
    float x[4 * 8 * 8] = {0}, out[4 * 8 * 8], ctx[77 * 64] = {0};
    cr_expect_eq(sdc_unet_forward(m.unet, x, 0, 8, 8, 1.0f, &(sdc_unet_cond){.context = ctx, .tokens = 77}, out), SDC_ERR_ARG);
    cr_expect_eq(sdc_unet_forward(m.unet, x, 1, 8, 8, 1.0f, &(sdc_unet_cond){.context = NULL, .tokens = 77}, out), SDC_ERR_ARG);
    cr_expect_eq(sdc_unet_forward(m.unet, x, 1, 0, 8, 1.0f, &(sdc_unet_cond){.context = ctx, .tokens = 77}, out), SDC_ERR_ARG);
    cr_expect(strlen(sdc_last_error()) > 0);
    cr_expect_eq(sdc_unet_forward(m.unet, x, 1, 8, 8, 1.0f, &(sdc_unet_cond){.context = ctx, .tokens = 77}, out), SDC_OK);
    unload(&m);
}

/* A checkpoint without a UNet fails with a message naming the file and tensor. */
Test(unet, missing_tensors_are_reported)
{
    sdc_checkpoint *ck;
    cr_assert_eq(sdc_checkpoint_open(golden_path("unet/tiny-sd1.safetensors"), &ck), SDC_OK);
    sdc_unet *u = (sdc_unet *)1;
    cr_expect_neq(sdc_unet_load(ck, &u), SDC_OK);
    cr_expect_null(u);
    cr_expect(strstr(sdc_last_error(), "tiny-sd1.safetensors") != NULL, "message: %s",
              sdc_last_error());
    sdc_checkpoint_close(ck);
}

/* Writes the UNet tensors of `src` to `path` as a new safetensors file, leaving out `drop`
 * and giving `reshape` the shape `shape` (zero-filled). */
static void write_variant(const sdc_safetensors *src, const char *path, const char *drop,
                          const char *reshape, const int64_t *shape, int ndim)
{
    json_t *header = json_object();
    size_t offset = 0, count = sdc_safetensors_count(src);
    for (size_t i = 0; i < count; i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(src, i);
        if (strncmp(e->name, "model.diffusion_model.", 22) != 0 || strcmp(e->name, drop) == 0)
            continue;
        int reshaped = strcmp(e->name, reshape) == 0;
        json_t *dims = json_array();
        size_t nbytes = sdc_dtype_size(e->tensor.dtype);
        for (int d = 0; d < (reshaped ? ndim : e->tensor.ndim); d++) {
            int64_t v = reshaped ? shape[d] : e->tensor.shape[d];
            json_array_append_new(dims, json_integer(v));
            nbytes *= (size_t)v;
        }
        json_object_set_new(header, e->name,
                            json_pack("{s:s, s:o, s:[I, I]}", "dtype",
                                      sdc_dtype_name(e->tensor.dtype), "shape", dims,
                                      "data_offsets", (json_int_t)offset,
                                      (json_int_t)(offset + nbytes)));
        offset += nbytes;
    }
    char *text = json_dumps(header, JSON_COMPACT);
    cr_assert(text);
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    uint64_t len = strlen(text);
    fwrite(&len, 8, 1, f); /* little-endian hosts only, like the tests' other helpers */
    fwrite(text, 1, len, f);
    for (size_t i = 0; i < count; i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(src, i);
        json_t *v = json_object_get(header, e->name);
        if (!v)
            continue;
        json_int_t a = json_integer_value(json_array_get(json_object_get(v, "data_offsets"), 0));
        json_int_t b = json_integer_value(json_array_get(json_object_get(v, "data_offsets"), 1));
        if (strcmp(e->name, reshape) == 0) {
            for (json_int_t k = a; k < b; k++)
                fputc(0, f);
        } else {
            fwrite(e->tensor.data, 1, e->nbytes, f);
        }
    }
    cr_assert_eq(fclose(f), 0);
    free(text);
    json_decref(header);
}

/* Loading fails cleanly (message naming file and tensor, nothing leaked) when a tensor deep
 * inside is missing or has the wrong shape. */
static void expect_load_error(const char *drop, const char *reshape, const int64_t *shape,
                              int ndim, const char *needle)
{
    sdc_safetensors *src;
    cr_assert_eq(sdc_safetensors_open(golden_path("models/tiny-sd1/model.safetensors"), &src),
                 SDC_OK);
    char path[] = "/tmp/sdc_test_unet_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    write_variant(src, path, drop, reshape, shape, ndim);
    sdc_safetensors_close(src);
    sdc_checkpoint *ck;
    cr_assert_eq(sdc_checkpoint_open(path, &ck), SDC_OK, "%s", sdc_last_error());
    sdc_unet *u = NULL;
    sdc_status s = sdc_unet_load(ck, &u);
    cr_expect_neq(s, SDC_OK, "loading without %s succeeded", needle);
    cr_expect_null(u);
    cr_expect(strstr(sdc_last_error(), needle) && strstr(sdc_last_error(), path),
              "message: %s", sdc_last_error());
    cr_log_info("%s", sdc_last_error());
    sdc_unet_free(u);
    sdc_checkpoint_close(ck);
    unlink(path);
}

Test(unet, missing_inner_tensor_is_reported)
{
    static const char name[] = "output_blocks.7.1.transformer_blocks.0.attn2.to_v.weight";
    char full[128];
    snprintf(full, sizeof full, "model.diffusion_model.%s", name);
    expect_load_error(full, "", NULL, 0, name);
}

Test(unet, wrong_shape_is_reported)
{
    static const int64_t shape[] = {64, 96, 3, 3};
    expect_load_error("", "model.diffusion_model.output_blocks.4.0.in_layers.2.weight", shape, 4,
                      "output_blocks.4.0.in_layers.2.weight");
}
