/* SDXL's two text encoders against golden/text_encoder/tiny-sdxl.safetensors, from the single
 * file (CLIP ViT-L in Hugging Face names, OpenCLIP bigG with fused in_proj and an [W, P]
 * text_projection) and from the diffusers folder (text_encoder/, text_encoder_2/ with a
 * [P, W] projection): each encoder's penultimate and final hidden states for the golden ids,
 * the pooled vector before and after the projection, and the conditioner's context and
 * pooled vector made from the prompt text (diffusers' strict mode: one 77-token window). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip/conditioning.h"
#include "clip/text_family.h"
#include "tests/golden.h"

#define CASE "text_encoder_sdxl.tiny-sdxl"
#define P 77

typedef struct sdxl_text {
    sdc_checkpoint *ck;
    sdc_tokenizer *tok;
    sdc_text_encoder *te[2];
    sdc_conditioner *cond;
} sdxl_text;

static sdxl_text open_text(int folder)
{
    sdxl_text t = {0};
    const char *rel = folder ? "models/tiny-sdxl/diffusers" : "models/tiny-sdxl/model.safetensors";
    cr_assert_eq(sdc_checkpoint_open(golden_path(rel), &t.ck), SDC_OK, "%s", sdc_last_error());
    const char *dir = sdc_checkpoint_tokenizer_dir(t.ck);
    cr_assert_eq(folder, dir != NULL, "the folder has tokenizer/, the single file none");
    cr_assert_eq(sdc_tokenizer_load(dir, dir ? NULL : getenv("SDC_VOCAB"), &t.tok), SDC_OK,
                 "%s", sdc_last_error());
    sdc_text_component enc[2];
    for (int k = 0; k < 2; k++) {
        sdc_component c = k ? SDC_COMPONENT_TEXT2 : SDC_COMPONENT_TEXT;
        cr_assert_eq(sdc_text_encoder_load_component(t.ck, c, &t.te[k]), SDC_OK, "%s",
                     sdc_last_error());
        sdc_text_family f = sdc_text_family_of(t.ck, c);
        enc[k] = (sdc_text_component){.tok = t.tok, .te = t.te[k], .pad_id = f.pad_token,
                                      .final_norm = f.final_norm, .pooled = k};
    }
    sdc_conditioning_params p = {.emphasis = 0, .clip_skip = 1};
    cr_assert_eq(sdc_conditioner_create(enc, 2, &p, &t.cond), SDC_OK, "%s", sdc_last_error());
    return t;
}

static void close_text(sdxl_text *t)
{
    sdc_conditioner_free(t->cond);
    for (int k = 0; k < 2; k++)
        sdc_text_encoder_free(t->te[k]);
    sdc_tokenizer_free(t->tok);
    sdc_checkpoint_close(t->ck);
}

static int32_t *ids_of(const sdc_safetensors *st, const char *name)
{
    long long *wide = golden_i64(golden_get(st, name));
    int32_t *ids = malloc(P * sizeof *ids);
    cr_assert(ids);
    for (int i = 0; i < P; i++)
        ids[i] = (int32_t)wide[i];
    free(wide);
    return ids;
}

static void expect(const float *got, const sdc_safetensors *st, const char *what, int i,
                   const char *layout)
{
    char name[64], label[96];
    snprintf(name, sizeof name, "%s.%d", what, i);
    snprintf(label, sizeof label, "%s (%s)", name, layout);
    double d = expect_close(got, golden_get(st, name), golden_tol(CASE, name), label);
    cr_log_info("%s: max |diff| %.3g", label, d);
}

/* Encoder k on the golden ids: its conditioning layer (no final norm for SDXL), the final
 * layer through final_layer_norm, and the pooled row. */
static void check_encoder(sdxl_text *t, const sdc_safetensors *st, int k, int i,
                          const char *layout)
{
    char name[32];
    snprintf(name, sizeof name, "ids%d.%d", k + 1, i);
    int32_t *ids = ids_of(st, name);
    int W = sdc_text_encoder_width(t->te[k]);
    float *pen = malloc((size_t)P * W * sizeof *pen), *fin = malloc((size_t)P * W * sizeof *fin);
    float *pooled = malloc((size_t)sdc_text_encoder_pooled_dim(t->te[k]) * sizeof *pooled);
    int L = sdc_text_encoder_layers(t->te[k]);
    cr_assert_eq(sdc_text_encoder_cond_layers(t->te[k]), L - 1, "SDXL conditions on L-1");
    sdc_text_request req[2] = {{.layer = L - 1, .final_norm = 0, .hidden = pen},
                               {.layer = L, .final_norm = 1, .hidden = fin, .pooled = pooled}};
    cr_assert_eq(sdc_text_encoder_forward(t->te[k], ids, 1, P, req, 2), SDC_OK, "%s",
                 sdc_last_error());
    expect(pen, st, k ? "enc2_penultimate" : "enc1_penultimate", i, layout);
    if (k == 0)
        expect(fin, st, "enc1_final", i, layout);
    else
        expect(pooled, st, "pooled", i, layout); /* through text_projection */
    free(ids);
    free(pen);
    free(fin);
    free(pooled);
}

/* The conditioner from the prompt text: context [77, W1 + W2] and the projected pooled. */
static void check_conditioner(sdxl_text *t, const sdc_safetensors *st, const char *prompt, int i,
                              const char *layout)
{
    float *context, *pooled = malloc((size_t)sdc_conditioner_pooled_dim(t->cond) * sizeof *pooled);
    int T;
    cr_assert_eq(sdc_conditioner_encode(t->cond, prompt, &context, &T), SDC_OK, "%s",
                 sdc_last_error());
    cr_assert_eq(T, P);
    expect(context, st, "context", i, layout);
    cr_assert_eq(sdc_conditioner_pooled(t->cond, prompt, pooled), SDC_OK);
    expect(pooled, st, "pooled", i, layout);
    free(context);
    free(pooled);
}

static void check_layout(int folder)
{
    const char *layout = folder ? "diffusers" : "single file";
    sdc_safetensors *st = golden_open("text_encoder/tiny-sdxl.safetensors");
    sdxl_text t = open_text(folder);
    json_t *cases = json_object_get(golden_manifest(), "cases"), *c, *prompts = NULL;
    size_t j;
    json_array_foreach(cases, j, c) {
        if (strcmp(json_string_value(json_object_get(c, "id")), CASE) == 0)
            prompts = json_object_get(c, "prompts");
    }
    cr_assert(json_array_size(prompts) > 0);
    for (size_t i = 0; i < json_array_size(prompts); i++) {
        for (int k = 0; k < 2; k++)
            check_encoder(&t, st, k, (int)i, layout);
        check_conditioner(&t, st, json_string_value(json_array_get(prompts, i)), (int)i, layout);
    }
    close_text(&t);
    sdc_safetensors_close(st);
}

Test(text_sdxl, single_file) { check_layout(0); }
Test(text_sdxl, diffusers_folder) { check_layout(1); }

/* The pooled row before the projection: ln_final of the last layer at the first EOS. */
Test(text_sdxl, pooled_before_the_projection)
{
    sdc_safetensors *st = golden_open("text_encoder/tiny-sdxl.safetensors");
    sdxl_text t = open_text(0);
    int32_t *ids = ids_of(st, "ids2.0");
    int W = sdc_text_encoder_width(t.te[1]), L = sdc_text_encoder_layers(t.te[1]);
    float *hidden = malloc((size_t)P * W * sizeof *hidden);
    sdc_text_request req = {.layer = L, .final_norm = 1, .hidden = hidden};
    cr_assert_eq(sdc_text_encoder_forward(t.te[1], ids, 1, P, &req, 1), SDC_OK);
    int eos = 0;
    for (int i = 1; i < P; i++)
        eos = ids[i] > ids[eos] ? i : eos;
    expect(hidden + (size_t)eos * W, st, "enc2_pooled_ln", 0, "single file");
    free(hidden);
    free(ids);
    close_text(&t);
    sdc_safetensors_close(st);
}
