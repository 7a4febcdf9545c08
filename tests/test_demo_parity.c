/* The C side against the training tool on the built-in demo model.
 *
 * Tokenizer: sdc, reading the model's own vocab.json + merges.txt, turns every word of the
 * test prompts into the single token the training tool used.
 *
 * Pipeline: tools/train-demo/ ran DDIM as diffusers does (leading spacing, torch CPU
 * generator seeded with the case's seed) on the shipped F16 weights, in float32 and in
 * float64, and stored the float32 final latent and picture (tests/demo/reference.safetensors)
 * with the case (reference.json). The latent tolerance follows the golden rule,
 * max(8 x |f32 - f64|, 2e-5 max(1, max|x|)) rounded up to one significant digit; the picture
 * may differ by 2/255. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clip/tokenizer.h"
#include "demo_scene.h"
#include "golden.h"
#include "pipeline/pipeline_impl.h"

static const char *text(json_t *c, const char *key)
{
    const char *s = json_string_value(json_object_get(c, key));
    cr_assert(s, "reference.json lacks '%s'", key);
    return s;
}

static int integer(json_t *c, const char *key)
{
    return (int)json_integer_value(json_object_get(c, key));
}

Test(demo_parity, ddim_cpu_seed)
{
    json_error_t err;
    json_t *c = json_load_file(source_path("tests/demo/reference.json"), 0, &err);
    cr_assert(c, "reference.json: %s", err.text);
    cr_assert_str_eq(text(c, "sampler"), "ddim");
    cr_assert_str_eq(text(c, "rng"), "cpu");

    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = source_path("models/demo/model.safetensors");
    sdc_model *m = NULL;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    sdc_generate_params p = sdc_generate_default_params();
    p.prompt = text(c, "prompt");
    p.negative_prompt = text(c, "negative_prompt");
    p.width = integer(c, "width");
    p.height = integer(c, "height");
    p.steps = integer(c, "steps");
    p.cfg_scale = (float)json_number_value(json_object_get(c, "cfg_scale"));
    p.seed = (uint64_t)integer(c, "seed");
    p.sampler = "ddim";
    p.rng = SDC_RNG_TYPE_CPU;
    size_t n = (size_t)4 * (p.height / 8) * (p.width / 8), px = (size_t)p.width * p.height * 3;
    float *latent = malloc(n * sizeof *latent);
    uint8_t *rgb = malloc(px);
    cr_assert(latent && rgb);
    cr_assert_eq(sdc_pipeline_generate(m, &p, rgb, latent), SDC_OK, "%s", sdc_last_error());

    sdc_safetensors *st;
    cr_assert_eq(sdc_safetensors_open(source_path("tests/demo/reference.safetensors"), &st),
                 SDC_OK, "%s", sdc_last_error());
    const sdc_st_entry *want = sdc_safetensors_find(st, "final_latent");
    const sdc_st_entry *want_u8 = sdc_safetensors_find(st, "image_u8");
    cr_assert(want && want_u8 && (size_t)sdc_tensor_numel(&want->tensor) == n &&
              want_u8->nbytes == px);
    double tol = json_number_value(json_object_get(c, "final_latent_tol_max_abs"));
    cr_assert_gt(tol, 0.0);
    double d = expect_close(latent, want, tol, "demo final latent");
    const uint8_t *ref = want_u8->tensor.data;
    int worst = 0;
    for (size_t i = 0; i < px; i++) {
        int e = abs((int)rgb[i] - (int)ref[i]);
        worst = e > worst ? e : worst;
    }
    cr_expect_leq(worst, 2, "picture differs from PyTorch's by %d/255", worst);
    fprintf(stderr, "demo vs PyTorch DDIM: final latent max |diff| %.2e (tolerance %g), "
            "picture max diff %d/255\n", d, tol, worst);
    sdc_safetensors_close(st);
    free(latent);
    free(rgb);
    sdc_model_free(m);
    json_decref(c);
}

Test(demo_parity, tokenizer)
{
    sdc_tokenizer *tok;
    cr_assert_eq(sdc_tokenizer_load(source_path("models/demo"), NULL, &tok), SDC_OK, "%s",
                 sdc_last_error());
    cr_expect_eq(sdc_tokenizer_eos(tok), sdc_tokenizer_bos(tok) + 1);
    demo_scene *rows;
    int n = demo_scene_read(source_path("tests/demo/prompts.tsv"), &rows);
    cr_assert_gt(n, 0);
    for (int r = 0; r < n; r++) {
        int32_t *ids;
        size_t count, words = 0;
        cr_assert_eq(sdc_tokenize(tok, rows[r].prompt, &ids, &count), SDC_OK);
        char copy[sizeof rows[r].prompt], *save;
        snprintf(copy, sizeof copy, "%s", rows[r].prompt);
        for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save), words++) {
            char token[64];
            snprintf(token, sizeof token, "%s</w>", w);
            int32_t want = sdc_tokenizer_token_id(tok, token);
            cr_expect(want >= 0 && words < count && ids[words] == want,
                      "'%s': word '%s' is not the single token %d", rows[r].prompt, w, want);
        }
        cr_expect_eq(count, words, "'%s': %zu tokens for %zu words", rows[r].prompt, count, words);
        free(ids);
    }
    free(rows);
    sdc_tokenizer_free(tok);
}

/* The picture of one small generation with the demo model at `model_path`. */
static uint8_t *render_demo(const char *model_path, const char *vocab)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = model_path;
    mp.vocab_path = vocab;
    sdc_model *m = NULL;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s: %s", model_path, sdc_last_error());
    sdc_generate_params p = sdc_generate_default_params();
    p.prompt = "a red circle";
    p.width = p.height = 64;
    p.steps = 2;
    p.seed = 3;
    uint8_t *rgb = malloc(64 * 64 * 3);
    cr_assert(rgb);
    cr_assert_eq(sdc_generate(m, &p, rgb), SDC_OK, "%s", sdc_last_error());
    sdc_model_free(m);
    return rgb;
}

/* The demo model's file alone in a folder, with --vocab models/demo: that folder's
 * special_tokens_map.json gives the pad token (the demo vocabulary has no token 49407, the
 * default), so the picture is the one the model makes with its vocabulary beside it. */
Test(demo_parity, vocab_dir_brings_its_special_tokens)
{
    char dir[] = "/tmp/sdc_test_vocab_XXXXXX", path[256];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert_eq(symlink(source_path("models/demo/model.safetensors"), path), 0);
    uint8_t *alone = render_demo(path, source_path("models/demo"));
    uint8_t *beside = render_demo(source_path("models/demo/model.safetensors"), NULL);
    cr_expect_eq(memcmp(alone, beside, 64 * 64 * 3), 0, "--vocab DIR renders another picture");
    free(alone);
    free(beside);
    unlink(path);
    rmdir(dir);
}

/* The tokenizer loads on a thread of its own beside the weights (pipeline/model.c): its
 * error still reaches the caller, one line naming the path, and nothing is leaked. */
Test(demo_parity, bad_vocabulary_fails_the_model_load)
{
    char dir[] = "/tmp/sdc_test_vocab_XXXXXX", path[256];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert_eq(symlink(source_path("models/demo/model.safetensors"), path), 0);
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = path;
    mp.vocab_path = "/nonexistent/vocab.txt.gz";
    sdc_model *m = (sdc_model *)&m;
    cr_expect_neq(sdc_model_load(&mp, &m), SDC_OK);
    cr_expect_null(m);
    cr_expect(strstr(sdc_last_error(), "/nonexistent/vocab.txt.gz"), "%s", sdc_last_error());
    cr_expect_null(strchr(sdc_last_error(), '\n'), "%s", sdc_last_error());
    unlink(path);
    rmdir(dir);
}
