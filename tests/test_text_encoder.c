/* The CLIP / OpenCLIP text encoder against golden/text_encoder/<model>.safetensors (final,
 * penultimate_ln, penultimate per prompt, and a batch of two), loaded from the single file
 * and the diffusers folder; then prompt text -> context (clip/conditioning.h) against the
 * contexts recorded in the UNet and trajectory cases. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip/text_family.h"
#include "clip/conditioning.h"
#include "clip/prompt_chunks.h"
#include "clip/text_encoder.h"
#include "tests/golden.h"

#define N_PROMPTS 4
#define P 77

typedef struct loaded {
    sdc_checkpoint *ck;
    sdc_text_encoder *te;
} loaded;

static loaded load_model(const char *rel)
{
    loaded m = {0};
    sdc_status s = sdc_checkpoint_open(golden_path(rel), &m.ck);
    if (s != SDC_OK && strstr(rel, "diffusers"))
        cr_skip_test("diffusers folder %s not opened (%s)", rel, sdc_last_error());
    cr_assert_eq(s, SDC_OK, "open %s: %s", rel, sdc_last_error());
    s = sdc_text_encoder_load(m.ck, &m.te);
    cr_assert_eq(s, SDC_OK, "text encoder load %s: %s", rel, sdc_last_error());
    return m;
}

static void unload(loaded *m)
{
    sdc_text_encoder_free(m->te);
    sdc_checkpoint_close(m->ck);
}

static const char *model_rel(const char *model, int folder)
{
    static char rel[128];
    snprintf(rel, sizeof rel, "models/%s/%s", model, folder ? "diffusers" : "model.safetensors");
    return rel;
}

/* ids of golden entry `name` ([B, T] I64) as int32; *n receives B * T. */
static int32_t *golden_ids(const sdc_safetensors *st, const char *name, size_t *n)
{
    const sdc_st_entry *e = golden_get(st, name);
    *n = (size_t)sdc_tensor_numel(&e->tensor);
    long long *wide = golden_i64(e);
    int32_t *ids = malloc(*n * sizeof *ids);
    cr_assert(ids);
    for (size_t i = 0; i < *n; i++)
        ids[i] = (int32_t)wide[i];
    free(wide);
    return ids;
}

/* Hidden states [B, T, W] after `layer` layers (through final_layer_norm when `norm`). */
static float *hidden(sdc_text_encoder *te, const int32_t *ids, int B, int T, int layer, int norm)
{
    float *out = malloc((size_t)B * T * sdc_text_encoder_width(te) * sizeof *out);
    cr_assert(out);
    sdc_text_request req = {.layer = layer, .final_norm = norm, .hidden = out};
    sdc_status s = sdc_text_encoder_forward(te, ids, B, T, &req, 1);
    cr_assert_eq(s, SDC_OK, "forward: %s", sdc_last_error());
    return out;
}

/* The golden names, as layers counted in the single file, which holds L_file layers. */
typedef struct golden_output {
    const char *name;
    int back; /* layer = L_file - back */
    int norm;
} golden_output;

static const golden_output outputs[] = {
    {"final", 0, 1},
    {"penultimate_ln", 1, 1},
    {"penultimate", 1, 0},
};

/* Every output of every prompt the encoder can produce: all of them from a single file; from
 * a folder that lacks the file's last layer (SD 2.x) only those of earlier layers. */
static void check_prompts(const char *model, int folder)
{
    char case_id[64], rel[96];
    snprintf(case_id, sizeof case_id, "text_encoder.%s", model);
    snprintf(rel, sizeof rel, "text_encoder/%s.safetensors", model);
    sdc_safetensors *st = golden_open(rel);
    loaded file = load_model(model_rel(model, 0));
    int L_file = sdc_text_encoder_layers(file.te);
    unload(&file);
    loaded m = load_model(model_rel(model, folder));
    int L = sdc_text_encoder_layers(m.te);
    cr_assert_eq(sdc_text_encoder_width(m.te), 64);
    cr_assert_eq(sdc_text_encoder_positions(m.te), P);
    int checked = 0;
    for (int i = 0; i < N_PROMPTS; i++) {
        char name[64];
        size_t n;
        snprintf(name, sizeof name, "ids.%d", i);
        int32_t *ids = golden_ids(st, name, &n);
        for (size_t o = 0; o < sizeof outputs / sizeof *outputs; o++) {
            int layer = L_file - outputs[o].back;
            if (layer > L)
                continue;
            snprintf(name, sizeof name, "%s.%d", outputs[o].name, i);
            float *got = hidden(m.te, ids, 1, (int)n, layer, outputs[o].norm);
            double d = expect_close(got, golden_get(st, name), golden_tol(case_id, name), name);
            cr_log_info("%s %s %s: max |diff| %.3g", model, folder ? "folder" : "file", name, d);
            free(got);
            checked++;
        }
        free(ids);
    }
    cr_expect_geq(checked, 2 * N_PROMPTS, "only %d outputs checked", checked);
    unload(&m);
    sdc_safetensors_close(st);
}

Test(text_encoder, sd1_file) { check_prompts("tiny-sd1", 0); }
Test(text_encoder, sd1_folder) { check_prompts("tiny-sd1", 1); }
Test(text_encoder, sd2_file) { check_prompts("tiny-sd2v", 0); }
Test(text_encoder, sd2_folder) { check_prompts("tiny-sd2v", 1); }

/* batch2.final: two prompts in one batch, plus the same two as one 154-token row (two
 * chunks, each encoded on its own), which must give final.0 and final.1 side by side. */
static void check_batch(const char *model)
{
    char case_id[64], rel[96];
    snprintf(case_id, sizeof case_id, "text_encoder.%s", model);
    snprintf(rel, sizeof rel, "text_encoder/%s.safetensors", model);
    sdc_safetensors *st = golden_open(rel);
    loaded m = load_model(model_rel(model, 0));
    int L = sdc_text_encoder_layers(m.te), W = sdc_text_encoder_width(m.te);
    size_t n;
    int32_t *ids = golden_ids(st, "batch2.ids", &n);
    cr_assert_eq(n, 2 * P);
    float *got = hidden(m.te, ids, 2, P, L, 1);
    expect_close(got, golden_get(st, "batch2.final"), golden_tol(case_id, "batch2.final"),
                 "batch2.final");
    free(got);
    got = hidden(m.te, ids, 1, 2 * P, L, 1); // [1, 154, W]
    for (int k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "final.%d", k);
        expect_close(got + (size_t)k * P * W, golden_get(st, name), golden_tol(case_id, name),
                     name);
    }
    free(got);
    free(ids);
    unload(&m);
    sdc_safetensors_close(st);
}

Test(text_encoder, sd1_batch) { check_batch("tiny-sd1"); }
Test(text_encoder, sd2_batch) { check_batch("tiny-sd2v"); }

/* One forward serving several requests, including the pooled EOS rows, which must be the
 * final rows at each chunk's first largest id. */
Test(text_encoder, requests_and_pooled)
{
    sdc_safetensors *st = golden_open("text_encoder/tiny-sd1.safetensors");
    loaded m = load_model(model_rel("tiny-sd1", 0));
    int L = sdc_text_encoder_layers(m.te), W = sdc_text_encoder_width(m.te);
    size_t n;
    int32_t *ids = golden_ids(st, "batch2.ids", &n);
    float *fin = malloc(2 * P * W * sizeof *fin), *pen = malloc(2 * P * W * sizeof *pen);
    float *pooled = malloc(2 * W * sizeof *pooled);
    cr_assert(fin && pen && pooled);
    sdc_text_request req[] = {
        {.layer = L, .final_norm = 1, .hidden = fin, .pooled = pooled},
        {.layer = L - 1, .final_norm = 0, .hidden = pen},
    };
    cr_assert_eq(sdc_text_encoder_forward(m.te, ids, 2, P, req, 2), SDC_OK, "%s",
                 sdc_last_error());
    double tol = golden_tol("text_encoder.tiny-sd1", "batch2.final");
    expect_close(fin, golden_get(st, "batch2.final"), tol, "batch2.final");
    expect_close(pen, golden_get(st, "penultimate.0"),
                 golden_tol("text_encoder.tiny-sd1", "penultimate.0"), "penultimate.0");
    float *want = golden_f32(golden_get(st, "batch2.final"));
    for (int b = 0; b < 2; b++) {
        int eos = 0;
        for (int t = 1; t < P; t++)
            if (ids[b * P + t] > ids[b * P + eos])
                eos = t;
        cr_expect_eq(ids[b * P + eos], 49407, "row %d: EOS not found", b);
        double d = max_abs_diff(pooled + b * W, want + ((size_t)b * P + eos) * W, (size_t)W);
        cr_expect_leq(d, tol, "pooled row %d differs by %g", b, d);
    }
    free(want);
    free(fin);
    free(pen);
    free(pooled);
    free(ids);
    unload(&m);
    sdc_safetensors_close(st);
}

/* The family's conditioning layer and clip skip: SD 1.x uses every layer; SD 2.x the file's
 * L - 1, which is every layer of its folder. */
static void check_layers(const char *model, int folder, int want_layers, int want_cond,
                         int want_quick_gelu)
{
    loaded m = load_model(model_rel(model, folder));
    cr_expect_eq(sdc_text_encoder_layers(m.te), want_layers, "%s layers", model);
    cr_expect_eq(sdc_text_encoder_cond_layers(m.te), want_cond, "%s cond layers", model);
    cr_expect_eq(sdc_text_encoder_quick_gelu(m.te), want_quick_gelu, "%s activation", model);
    int layer = 0;
    cr_expect_eq(sdc_text_encoder_skip_layer(m.te, 0, &layer), SDC_OK);
    cr_expect_eq(layer, want_cond);
    cr_expect_eq(sdc_text_encoder_skip_layer(m.te, 1, &layer), SDC_OK);
    cr_expect_eq(layer, want_cond);
    cr_expect_eq(sdc_text_encoder_skip_layer(m.te, 2, &layer), SDC_OK);
    cr_expect_eq(layer, want_cond - 1);
    cr_expect_eq(sdc_text_encoder_skip_layer(m.te, want_cond + 1, &layer), SDC_ERR_ARG);
    unload(&m);
}

Test(text_encoder, layers_sd1_file) { check_layers("tiny-sd1", 0, 3, 3, 1); }
Test(text_encoder, layers_sd1_folder) { check_layers("tiny-sd1", 1, 3, 3, 1); }
Test(text_encoder, layers_sd2_file) { check_layers("tiny-sd2v", 0, 3, 2, 0); }
Test(text_encoder, layers_sd2_folder) { check_layers("tiny-sd2v", 1, 2, 2, 0); }

Test(text_encoder, bad_inputs)
{
    loaded m = load_model(model_rel("tiny-sd1", 0));
    int32_t ids[2 * P] = {0};
    float out[2 * P * 64];
    sdc_text_request req = {.layer = 1, .final_norm = 1, .hidden = out};
    cr_expect_eq(sdc_text_encoder_forward(m.te, ids, 1, P - 1, &req, 1), SDC_ERR_ARG);
    cr_expect_eq(sdc_text_encoder_forward(m.te, ids, 0, P, &req, 1), SDC_ERR_ARG);
    ids[5] = 49408;
    cr_expect_eq(sdc_text_encoder_forward(m.te, ids, 1, P, &req, 1), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "49408") != NULL, "message: %s", sdc_last_error());
    ids[5] = -1;
    cr_expect_eq(sdc_text_encoder_forward(m.te, ids, 1, P, &req, 1), SDC_ERR_ARG);
    ids[5] = 0;
    req.layer = 0;
    cr_expect_eq(sdc_text_encoder_forward(m.te, ids, 1, P, &req, 1), SDC_ERR_ARG);
    req.layer = 4;
    cr_expect_eq(sdc_text_encoder_forward(m.te, ids, 1, P, &req, 1), SDC_ERR_ARG);
    req.layer = 3;
    cr_expect_eq(sdc_text_encoder_forward(m.te, ids, 1, P, &req, 0), SDC_ERR_ARG);
    cr_expect_eq(sdc_text_encoder_forward(m.te, ids, 2, P, &req, 1), SDC_OK);
    unload(&m);
}

/* A file without a text encoder (the UNet-only diffusers weights) fails to load with a
 * message naming the file and the first missing tensor. */
Test(text_encoder, missing_tensors)
{
    const char *path = golden_path("models/tiny-sd1/diffusers/unet/diffusion_pytorch_model.safetensors");
    sdc_checkpoint *ck = NULL;
    sdc_status s = sdc_checkpoint_open(path, &ck);
    cr_assert_eq(s, SDC_OK, "open: %s", sdc_last_error());
    sdc_text_encoder *te = (sdc_text_encoder *)1;
    s = sdc_text_encoder_load(ck, &te);
    cr_expect_neq(s, SDC_OK);
    cr_expect_null(te);
    cr_expect(strstr(sdc_last_error(), path) != NULL, "message: %s", sdc_last_error());
    cr_expect(strstr(sdc_last_error(), "token_embedding") != NULL, "message: %s",
              sdc_last_error());
    sdc_checkpoint_close(ck);
}

/* ---- prompt text -> context ------------------------------------------------------------ */

typedef struct conditioning {
    loaded m;
    sdc_tokenizer *tok;
    sdc_conditioner *cond;
    int W;
} conditioning;

static conditioning open_conditioning(const char *model, int folder, int emphasis)
{
    conditioning c = {.m = load_model(model_rel(model, folder))};
    const char *dir = sdc_checkpoint_tokenizer_dir(c.m.ck);
    sdc_status s = sdc_tokenizer_load(dir, dir ? NULL : vocab_path(), &c.tok);
    cr_assert_eq(s, SDC_OK, "tokenizer: %s", sdc_last_error());
    sdc_conditioning_params p = {.emphasis = emphasis, .clip_skip = 1};
    sdc_text_component text = {.tok = c.tok, .te = c.m.te, .final_norm = 1,
                               .pad_id = sdc_text_family_of(c.m.ck, SDC_COMPONENT_TEXT).pad_token};
    s = sdc_conditioner_create(&text, 1, &p, &c.cond);
    cr_assert_eq(s, SDC_OK, "conditioner: %s", sdc_last_error());
    c.W = sdc_text_encoder_width(c.m.te);
    return c;
}

static void close_conditioning(conditioning *c)
{
    sdc_conditioner_free(c->cond);
    sdc_tokenizer_free(c->tok);
    unload(&c->m);
}

/* The trajectory's context rows [negative, positive] from the prompt texts. */
static void check_trajectory(const char *model, int folder, int emphasis, const char *case_id,
                             const char *prompt, const char *negative)
{
    char rel[128];
    snprintf(rel, sizeof rel, "trajectories/%s.safetensors", case_id);
    sdc_safetensors *st = golden_open(rel);
    const sdc_st_entry *want = golden_get(st, "context");
    cr_assert_eq(want->tensor.shape[0], 2);
    conditioning c = open_conditioning(model, folder, emphasis);
    float *cond, *uncond;
    int T;
    sdc_status s = sdc_conditioner_encode_pair(c.cond, prompt, negative, &cond, &uncond, &T);
    cr_assert_eq(s, SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(T, P);
    float *both = malloc(2 * P * c.W * sizeof *both);
    cr_assert(both);
    memcpy(both, uncond, P * c.W * sizeof *both);
    memcpy(both + P * c.W, cond, P * c.W * sizeof *both);
    double d = expect_close(both, want, golden_tol(case_id, "context"), case_id);
    cr_log_info("%s %s emphasis %d: max |diff| %.3g", case_id, folder ? "folder" : "file",
                emphasis, d);
    free(both);
    free(cond);
    free(uncond);
    close_conditioning(&c);
    sdc_safetensors_close(st);
}

#define ASTRONAUT "a photograph of an astronaut riding a horse, highly detailed"
#define BLURRY "blurry, low quality"

Test(conditioning, sd1_trajectory_file)
{
    check_trajectory("tiny-sd1", 0, 0, "txt2img.tiny-sd1.ddim", ASTRONAUT, BLURRY);
}
Test(conditioning, sd1_trajectory_folder)
{
    check_trajectory("tiny-sd1", 1, 0, "txt2img.tiny-sd1.ddim", ASTRONAUT, BLURRY);
}
Test(conditioning, sd2_trajectory_file)
{
    check_trajectory("tiny-sd2v", 0, 0, "txt2img.tiny-sd2v.ddim", ASTRONAUT, BLURRY);
}
Test(conditioning, sd2_trajectory_folder)
{
    check_trajectory("tiny-sd2v", 1, 0, "txt2img.tiny-sd2v.ddim", ASTRONAUT, BLURRY);
}
/* Without emphasis syntax and within 75 tokens both modes give the same context. */
Test(conditioning, sd1_trajectory_emphasis_mode)
{
    check_trajectory("tiny-sd1", 0, 1, "txt2img.tiny-sd1.ddim", ASTRONAUT, BLURRY);
}
Test(conditioning, sd2_trajectory_emphasis_mode)
{
    check_trajectory("tiny-sd2v", 0, 1, "txt2img.tiny-sd2v.ddim", ASTRONAUT, BLURRY);
}

/* The UNet case's contexts: "a red cube on a blue table" and the empty negative prompt. */
Test(conditioning, sd1_unet_contexts)
{
    sdc_safetensors *st = golden_open("unet/tiny-sd1.safetensors");
    conditioning c = open_conditioning("tiny-sd1", 0, 0);
    float *cond, *uncond;
    int T;
    cr_assert_eq(sdc_conditioner_encode_pair(c.cond, "a red cube on a blue table", "", &cond,
                                             &uncond, &T), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(T, P);
    expect_close(cond, golden_get(st, "context_cond"), golden_tol("unet.tiny-sd1", "context_cond"),
                 "context_cond");
    expect_close(uncond, golden_get(st, "context_uncond"),
                 golden_tol("unet.tiny-sd1", "context_uncond"), "context_uncond");
    free(cond);
    free(uncond);
    close_conditioning(&c);
    sdc_safetensors_close(st);
}

/* Sum and mean of n floats, in double. */
static double mean_of(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

/* (text:1.3) weighting: rows times their weights, the chunk rescaled to its unweighted mean;
 * recomputed here from the chunk's ids and weights through the bare text encoder. */
Test(conditioning, emphasis_weights)
{
    const char *prompt = "(a photograph:1.3) of an [astronaut] riding a horse";
    conditioning c = open_conditioning("tiny-sd1", 0, 1);
    float *got;
    int T;
    cr_assert_eq(sdc_conditioner_encode(c.cond, prompt, &got, &T), SDC_OK, "%s",
                 sdc_last_error());
    cr_assert_eq(T, P);
    sdc_token_chunk *chunks;
    size_t count;
    cr_assert_eq(sdc_prompt_to_chunks(c.tok, prompt, 49407, 1, &chunks, &count), SDC_OK);
    cr_assert_eq(count, 1);
    int weighted = 0;
    for (int t = 0; t < P; t++)
        weighted += chunks[0].weights[t] != 1.0f;
    cr_assert_geq(weighted, 3, "the prompt should weight its tokens");
    float *z = hidden(c.m.te, chunks[0].ids, 1, P, 3, 1);
    double before = mean_of(z, (size_t)P * c.W);
    for (int t = 0; t < P; t++)
        for (int i = 0; i < c.W; i++)
            z[t * c.W + i] *= chunks[0].weights[t];
    double scale = before / mean_of(z, (size_t)P * c.W);
    for (size_t i = 0; i < (size_t)P * c.W; i++)
        z[i] = (float)(z[i] * scale);
    double d = max_abs_diff(got, z, (size_t)P * c.W);
    cr_expect_leq(d, 1e-5, "weighted context differs by %g", d);
    cr_expect_leq(fabs(mean_of(got, (size_t)P * c.W) - before), 1e-6, "mean not restored");
    // the weighted rows really differ from the plain encoding
    float *plain = hidden(c.m.te, chunks[0].ids, 1, P, 3, 1);
    cr_expect_gt(max_abs_diff(got, plain, (size_t)P * c.W), 1e-3);
    free(plain);
    free(z);
    free(chunks);
    free(got);
    close_conditioning(&c);
}

/* A prompt beyond 75 tokens becomes two chunks in emphasis mode (one truncated window in
 * strict mode); the shorter negative prompt is padded with the empty prompt's chunk, which
 * for SD 1.x is final.1 (the empty prompt) of the text encoder case. */
Test(conditioning, long_prompt_padding)
{
    sdc_safetensors *st = golden_open("text_encoder/tiny-sd1.safetensors");
    double tol = golden_tol("text_encoder.tiny-sd1", "final.1");
    const sdc_st_entry *empty = golden_get(st, "final.1");
    char prompt[1024] = "";
    for (int i = 0; i < 10; i++)
        strcat(prompt, "a highly detailed matte painting of a castle on a cliff, ");
    conditioning c = open_conditioning("tiny-sd1", 0, 1);
    float *cond, *uncond;
    int T;
    cr_assert_eq(sdc_conditioner_encode_pair(c.cond, prompt, "", &cond, &uncond, &T), SDC_OK,
                 "%s", sdc_last_error());
    cr_assert_geq(T, 2 * P);
    cr_assert_eq(T % P, 0);
    for (int k = 0; k < T / P; k++)
        expect_close(uncond + (size_t)k * P * c.W, empty, tol, "padded negative chunk");
    // the same long prompt as the negative one: the positive side is padded instead
    float *cond2, *uncond2;
    int T2;
    cr_assert_eq(sdc_conditioner_encode_pair(c.cond, "", prompt, &cond2, &uncond2, &T2), SDC_OK);
    cr_assert_eq(T2, T);
    cr_expect_eq(memcmp(uncond2, cond, (size_t)T * c.W * sizeof *cond), 0, "cache changed");
    for (int k = 0; k < T / P; k++)
        expect_close(cond2 + (size_t)k * P * c.W, empty, tol, "padded positive chunk");
    free(cond2);
    free(uncond2);
    free(cond);
    free(uncond);
    close_conditioning(&c);

    c = open_conditioning("tiny-sd1", 0, 0);
    cr_assert_eq(sdc_conditioner_encode(c.cond, prompt, &cond, &T), SDC_OK);
    cr_expect_eq(T, P, "strict mode truncates to one window");
    free(cond);
    close_conditioning(&c);
    sdc_safetensors_close(st);
}

/* More distinct prompts than the cache holds, then the first again: same result. */
Test(conditioning, cache_reuse)
{
    conditioning c = open_conditioning("tiny-sd1", 0, 1);
    float *first, *again;
    int T;
    cr_assert_eq(sdc_conditioner_encode(c.cond, "a red cube", &first, &T), SDC_OK);
    for (int i = 0; i < SDC_CONDITIONING_CACHE + 2; i++) {
        char p[32];
        float *x;
        snprintf(p, sizeof p, "prompt number %d", i);
        cr_assert_eq(sdc_conditioner_encode(c.cond, p, &x, &T), SDC_OK);
        free(x);
        cr_assert_eq(sdc_conditioner_encode(c.cond, "a red cube", &x, &T), SDC_OK);
        cr_expect_eq(memcmp(x, first, (size_t)T * c.W * sizeof *x), 0, "round %d", i);
        free(x);
    }
    cr_assert_eq(sdc_conditioner_encode(c.cond, "a red cube", &again, &T), SDC_OK);
    cr_expect_eq(memcmp(again, first, (size_t)T * c.W * sizeof *again), 0);
    free(first);
    free(again);
    close_conditioning(&c);
}

Test(conditioning, bad_params)
{
    loaded m = load_model(model_rel("tiny-sd1", 0));
    sdc_conditioner *c = NULL;
    sdc_conditioning_params p = {.emphasis = 1, .clip_skip = 4};
    sdc_text_component text = {.te = m.te, .final_norm = 1, .pad_id = 49407};
    cr_expect_eq(sdc_conditioner_create(&text, 1, &p, &c), SDC_ERR_ARG);
    p.clip_skip = 1;
    text.pad_id = 49408;
    cr_expect_eq(sdc_conditioner_create(&text, 1, &p, &c), SDC_ERR_ARG);
    text.pad_id = 49407;
    text.pooled = 1;
    sdc_text_component two[2] = {text, text};
    cr_expect_eq(sdc_conditioner_create(two, 2, &p, &c), SDC_ERR_ARG, "two pooled encoders");
    cr_expect_eq(sdc_conditioner_create(&text, 0, &p, &c), SDC_ERR_ARG);
    cr_expect_null(c);
    unload(&m);
}

/* ---- several text encoders in one conditioner (SDXL's shape) ---------------------------- */

/* A conditioner over one component of c with the given rules. */
static sdc_conditioner *single(const conditioning *c, int final_norm, int emphasis)
{
    sdc_conditioning_params p = {.emphasis = emphasis, .clip_skip = 1};
    sdc_text_component text = {.tok = c->tok, .te = c->m.te, .final_norm = final_norm,
                               .pad_id = sdc_text_family_of(c->m.ck, SDC_COMPONENT_TEXT).pad_token};
    sdc_conditioner *out;
    cr_assert_eq(sdc_conditioner_create(&text, 1, &p, &out), SDC_OK, "%s", sdc_last_error());
    return out;
}

Test(conditioning, two_encoders_side_by_side_and_a_pooled_vector)
{
    conditioning a = open_conditioning("tiny-sd1", 0, 1), b = open_conditioning("tiny-sd2v", 0, 1);
    sdc_text_component enc[2] = {
        {.tok = a.tok, .te = a.m.te, .final_norm = 1, .pad_id = sdc_text_family_of(a.m.ck, SDC_COMPONENT_TEXT).pad_token},
        {.tok = b.tok, .te = b.m.te, .final_norm = 0, .pooled = 1,
         .pad_id = sdc_text_family_of(b.m.ck, SDC_COMPONENT_TEXT).pad_token},
    };
    sdc_conditioning_params p = {.emphasis = 1, .clip_skip = 1};
    sdc_conditioner *both, *only_b = single(&b, 0, 1);
    cr_assert_eq(sdc_conditioner_create(enc, 2, &p, &both), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_conditioner_width(both), a.W + b.W);
    cr_assert_eq(sdc_conditioner_pooled_dim(both), b.W);
    /* long enough for two chunks, with emphasis */
    const char *prompt = "a (red:1.3) cube on a [blue] table, BREAK a photograph of an astronaut "
                         "riding a horse on the moon, highly detailed, sharp focus";
    float *ctx, *ref_a, *ref_b;
    int T, Ta, Tb;
    cr_assert_eq(sdc_conditioner_encode(both, prompt, &ctx, &T), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_conditioner_encode(a.cond, prompt, &ref_a, &Ta), SDC_OK);
    cr_assert_eq(sdc_conditioner_encode(only_b, prompt, &ref_b, &Tb), SDC_OK);
    cr_assert(T == 2 * P && Ta == T && Tb == T, "tokens %d %d %d", T, Ta, Tb);
    int W = a.W + b.W;
    for (int t = 0; t < T; t++) {
        cr_expect_eq(memcmp(ctx + (size_t)t * W, ref_a + (size_t)t * a.W, a.W * sizeof *ctx), 0,
                     "token %d: first encoder's columns", t);
        cr_expect_eq(memcmp(ctx + (size_t)t * W + a.W, ref_b + (size_t)t * b.W,
                            b.W * sizeof *ctx),
                     0, "token %d: second encoder's columns", t);
    }
    /* pooled: the second encoder's first-chunk EOS row after every layer and final norm */
    sdc_token_chunk *chunks;
    size_t count;
    cr_assert_eq(sdc_prompt_to_chunks(b.tok, prompt, enc[1].pad_id, 1, &chunks, &count), SDC_OK);
    float *want = malloc(count * b.W * sizeof *want), *pooled = malloc(b.W * sizeof *pooled);
    sdc_text_request req = {.layer = sdc_text_encoder_layers(b.m.te), .final_norm = 1,
                            .pooled = want};
    cr_assert_eq(sdc_text_encoder_forward(b.m.te, chunks[0].ids, 1, P, &req, 1), SDC_OK);
    cr_assert_eq(sdc_conditioner_pooled(both, prompt, pooled), SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(memcmp(pooled, want, b.W * sizeof *pooled), 0);
    cr_expect_eq(sdc_conditioner_pooled(a.cond, prompt, pooled), SDC_ERR_ARG);
    /* the pair pads the shorter prompt with the empty prompt's chunk in every column */
    float *cond, *uncond;
    cr_assert_eq(sdc_conditioner_encode_pair(both, prompt, "", &cond, &uncond, &T), SDC_OK);
    cr_expect_eq(T, 2 * P);
    cr_expect_eq(memcmp(uncond + (size_t)P * W, uncond, (size_t)P * W * sizeof *uncond), 0);
    free(chunks);
    free(want);
    free(pooled);
    free(cond);
    free(uncond);
    free(ctx);
    free(ref_a);
    free(ref_b);
    sdc_conditioner_free(both);
    sdc_conditioner_free(only_b);
    close_conditioning(&a);
    close_conditioning(&b);
}
