/* AUTOMATIC1111's parameters text read back (pipeline/infotext.h) as its
 * parse_generation_parameters reads it, and sdc's own text round-tripped. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/infotext.h"
#include "pipeline/parameters.h"

Test(infotext, prompt_negative_and_settings)
{
    sdc_infotext t;
    cr_assert_eq(sdc_infotext_parse("  a castle,\n  on a (hill:1.2)  \nNegative prompt: blurry,\n"
                                    "ugly\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7,"
                                    " Seed: 123, Size: 512x768, Lora hashes: \"a: 0123abcd, "
                                    "b: \\\"q\\\"\", Version: v1.6.0\n",
                                    &t),
                 SDC_OK);
    cr_expect_str_eq(t.prompt, "a castle,\non a (hill:1.2)");
    cr_expect_str_eq(t.negative, "blurry,\nugly");
    cr_expect_eq(t.count, 7);
    cr_expect_str_eq(sdc_infotext_get(&t, "Sampler"), "DPM++ 2M Karras");
    cr_expect_str_eq(sdc_infotext_get(&t, "Size"), "512x768");
    cr_expect_str_eq(sdc_infotext_get(&t, "Lora hashes"), "a: 0123abcd, b: \"q\"");
    cr_expect_str_eq(sdc_infotext_get(&t, "Version"), "v1.6.0");
    cr_expect_null(sdc_infotext_get(&t, "Model"));
    sdc_infotext_free(&t);
}

/* A last line with fewer than three settings is part of the prompt; so is a text that is
 * only a prompt. A quoted value that does not end its setting is read up to the comma. */
Test(infotext, prompt_only_and_odd_values)
{
    sdc_infotext t;
    cr_assert_eq(sdc_infotext_parse("a photo\nStyle: noir, Mood: dark", &t), SDC_OK);
    cr_expect_str_eq(t.prompt, "a photo\nStyle: noir, Mood: dark");
    cr_expect_eq(t.count, 0);
    sdc_infotext_free(&t);
    cr_assert_eq(sdc_infotext_parse("x\nSteps: 5, Note: \"a\" b, Seed: 1, Ab: \"\\u00e9\"", &t),
                 SDC_OK);
    cr_expect_str_eq(t.prompt, "x");
    cr_expect_str_eq(sdc_infotext_get(&t, "Note"), "\"a\" b");
    cr_expect_str_eq(sdc_infotext_get(&t, "Ab"), "\xc3\xa9");
    sdc_infotext_free(&t);
    cr_assert_eq(sdc_infotext_parse("", &t), SDC_OK);
    cr_expect_str_eq(t.prompt, "");
    sdc_infotext_free(&t);
}

/* What sdc writes comes back field for field. */
Test(infotext, sdc_text_round_trips)
{
    sdc_generate_params g = sdc_generate_default_params();
    g.prompt = "a red (apple:1.2), <lora:x:0.5>";
    g.negative_prompt = "blurry";
    g.scheduler = "karras";
    g.sampler = "dpm++2m";
    g.eta = 0.25f;
    g.emphasis = 0;
    g.seed = 4242;
    char *text = sdc_parameters_text(&g, "/m/model.safetensors", "0123456789", "x: abc", NULL,
                                     NULL);
    cr_assert_not_null(text);
    sdc_infotext t;
    cr_assert_eq(sdc_infotext_parse(text, &t), SDC_OK);
    cr_expect_str_eq(t.prompt, g.prompt);
    cr_expect_str_eq(t.negative, "blurry");
    cr_expect_str_eq(sdc_infotext_get(&t, "Sampler"), "DPM++ 2M");
    cr_expect_str_eq(sdc_infotext_get(&t, "Schedule type"), "Karras");
    cr_expect_str_eq(sdc_infotext_get(&t, "Seed"), "4242");
    cr_expect_str_eq(sdc_infotext_get(&t, "Model hash"), "0123456789");
    cr_expect_str_eq(sdc_infotext_get(&t, "Model"), "model");
    cr_expect_str_eq(sdc_infotext_get(&t, "Eta DDIM"), "0.25");
    cr_expect_str_eq(sdc_infotext_get(&t, "Prompt parsing"), "plain");
    cr_expect_str_eq(sdc_infotext_get(&t, "Lora hashes"), "x: abc");
    sdc_infotext_free(&t);
    free(text);
}
