/* Every case of every golden set is either checked by a test program here or waits for a
 * named issue (tests/golden.c's golden_pending_kind, empty since every kind is covered). A
 * new kind of case that nobody has looked at fails this test instead of being ignored. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/golden.h"

static const char *const sets[] = {"", "lora", "controlnet", "taesd", "samplers", "prompts",
                                   "gguf"};

/* Case kinds (set "" = the main one) and the test programs that check them. */
static const struct {
    const char *set, *kind, *tests;
} covered[] = {
    {"", "tokenizer", "tokenizer"},
    {"", "prompt_attention", "prompt_attention"},
    {"", "text_encoder", "text_encoder, bf16"},
    {"", "unet", "unet, bf16"},
    {"", "vae", "vae, bf16"},
    {"", "freeu", "freeu"},
    {"", "scheduler", "scheduler"},
    {"", "rng", "rng"},
    {"", "txt2img", "samplers, pipeline"},
    {"", "kdiffusion", "samplers, pipeline"},
    {"", "img2img", "samplers, pipeline"},
    {"", "inpaint", "samplers, pipeline, inpaint"},
    {"", "unet_sdxl", "unet_cond (label vector)"},
    {"", "text_encoder_sdxl", "text_sdxl"},
    {"", "vae_sdxl", "vae"},
    {"", "txt2img_sdxl", "samplers, pipeline"},
    {"", "kdiffusion_sdxl", "samplers, pipeline"},
    {"", "unet_depth", "unet_cond (extra input channels)"},
    {"", "depth2img", "pipeline, depth"},
    {"", "unet_upscale", "unet_cond (class label, attn1 on the context)"},
    {"", "upscale", "pipeline"},
    {"lora", "lora", "lora"},
    {"lora", "lora_txt2img", "pipeline"},
    {"lora", "textual_inversion", "textual_inversion"},
    {"lora", "ti_txt2img", "pipeline"},
    {"controlnet", "controlnet_unet", "unet_cond (per-block residuals)"},
    {"controlnet", "controlnet", "controlnet"},
    {"controlnet", "controlnet_txt2img", "pipeline"},
    {"taesd", "taesd", "taesd, bf16"},
    {"taesd", "txt2img_taesd", "pipeline"},
    {"prompts", "prompt_schedule", "prompt_schedule"},
    {"prompts", "kdiffusion", "pipeline, prompt_schedule (per-call texts)"},
    {"samplers", "kdiffusion", "samplers, brownian, pipeline"},
    {"samplers", "txt2img", "samplers, pipeline"},
    {"gguf", "gguf_dequant", "gguf"},
    {"gguf", "txt2img", "pipeline"},
};

static const char *covering_tests(const char *set, const char *kind)
{
    for (size_t i = 0; i < sizeof covered / sizeof *covered; i++)
        if (strcmp(covered[i].set, set) == 0 && strcmp(covered[i].kind, kind) == 0)
            return covered[i].tests;
    return NULL;
}

Test(golden_coverage, every_case_is_checked_or_waits_for_an_issue)
{
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
        json_t *m = golden_set_manifest(sets[s]), *c;
        json_t *cases = json_object_get(m, "cases");
        cr_assert(json_array_size(cases) > 0, "golden set '%s' has no cases", sets[s]);
        size_t i;
        json_array_foreach(cases, i, c) {
            const char *id = json_string_value(json_object_get(c, "id"));
            const char *kind = json_string_value(json_object_get(c, "kind"));
            cr_assert(id && kind, "golden set '%s': case %zu has no id or kind", sets[s], i);
            cr_expect(covering_tests(sets[s], kind) || golden_pending_kind(sets[s], kind),
                      "golden case %s%s%s (kind %s) is neither tested nor listed as pending",
                      sets[s], *sets[s] ? "/" : "", id, kind);
        }
        json_decref(m);
    }
}
