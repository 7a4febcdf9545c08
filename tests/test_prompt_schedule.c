/* A1111's prompt editing, alternation and AND against golden/prompts/cases/
 * prompt_schedules.json (every entry: schedules, hires-pass schedules, AND splits), the
 * per-call choice of reconstruct_cond_batch, the texts of every model call of the golden
 * trajectories (their manifest's model_calls), and bounded behaviour on hostile prompts. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "clip/prompt_schedule.h"
#include "pipeline/pipeline_impl.h"
#include "tests/golden.h"

static json_t *cases(void)
{
    json_error_t err;
    json_t *root = json_load_file(golden_path("prompts/cases/prompt_schedules.json"), 0, &err);
    cr_assert(root, "prompt_schedules.json: %s", err.text);
    return root;
}

static void check_schedule(json_t *c)
{
    const char *prompt = json_string_value(json_object_get(c, "prompt"));
    int steps = (int)json_integer_value(json_object_get(c, "steps"));
    int hires = (int)json_integer_value(json_object_get(c, "hires_steps")); /* 0 if absent */
    json_t *want = json_object_get(c, "schedule");
    sdc_prompt_schedule got;
    cr_assert_eq(sdc_prompt_schedule_build(prompt, steps, hires, &got), SDC_OK, "'%s': %s",
                 prompt, sdc_last_error());
    cr_expect_eq((size_t)got.count, json_array_size(want), "'%s' (%d steps, hires %d): %d "
                 "entries, want %zu", prompt, steps, hires, got.count, json_array_size(want));
    for (int i = 0; i < got.count && (size_t)i < json_array_size(want); i++) {
        json_t *w = json_array_get(want, (size_t)i);
        int end_at = (int)json_integer_value(json_array_get(w, 0));
        const char *text = json_string_value(json_array_get(w, 1));
        cr_expect_eq(got.steps[i].end_at_step, end_at, "'%s' entry %d: step %d, want %d",
                     prompt, i, got.steps[i].end_at_step, end_at);
        cr_expect_str_eq(got.steps[i].text, text, "'%s' entry %d", prompt, i);
    }
    sdc_prompt_schedule_free(&got);
}

Test(prompt_schedule, every_golden_schedule)
{
    json_t *root = cases(), *c;
    size_t i;
    cr_assert(json_array_size(json_object_get(root, "schedules")) > 0);
    json_array_foreach(json_object_get(root, "schedules"), i, c)
        check_schedule(c);
    json_decref(root);
}

Test(prompt_schedule, every_golden_and_split)
{
    json_t *root = cases(), *c;
    size_t i;
    cr_assert(json_array_size(json_object_get(root, "multicond")) > 0);
    json_array_foreach(json_object_get(root, "multicond"), i, c) {
        const char *prompt = json_string_value(json_object_get(c, "prompt"));
        json_t *want = json_object_get(c, "subprompts");
        sdc_subprompt *parts;
        int n;
        cr_assert_eq(sdc_prompt_split_and(prompt, &parts, &n), SDC_OK);
        cr_expect_eq((size_t)n, json_array_size(want), "'%s': %d parts", prompt, n);
        for (int k = 0; k < n && (size_t)k < json_array_size(want); k++) {
            json_t *w = json_array_get(want, (size_t)k);
            cr_expect_str_eq(parts[k].text, json_string_value(json_array_get(w, 0)),
                             "'%s' part %d", prompt, k);
            cr_expect_eq(parts[k].weight, json_number_value(json_array_get(w, 1)),
                         "'%s' part %d: weight %.17g", prompt, k, parts[k].weight);
        }
        sdc_subprompts_free(parts, n);
    }
    json_decref(root);
}

/* reconstruct_cond_batch: the first entry with counter <= end_at_step, else the first. */
Test(prompt_schedule, counter_picks_entries_and_wraps_to_the_first)
{
    sdc_prompt_schedule s;
    cr_assert_eq(sdc_prompt_schedule_build("[cat|dog] x", 4, 0, &s), SDC_OK);
    const char *want[] = {"cat x", "cat x", "dog x", "cat x", "dog x", "cat x", "cat x"};
    for (int k = 0; k < 7; k++)
        cr_expect_str_eq(sdc_prompt_schedule_at(&s, k), want[k], "counter %d", k);
    sdc_prompt_schedule_free(&s);
}

/* The grammar rejects these: each stays one entry with the prompt as written. */
Test(prompt_schedule, rejected_prompts_stay_text)
{
    const char *prompts[] = {"a | b [c:d:2]", "[a:b:2] ends in \\", "(a|b) [x:y:1]",
                             "line\\\nbreak [a:b:1]", "[a|b"};
    for (size_t i = 0; i < sizeof prompts / sizeof *prompts; i++) {
        sdc_prompt_schedule s;
        cr_assert_eq(sdc_prompt_schedule_build(prompts[i], 10, 0, &s), SDC_OK);
        cr_expect_eq(s.count, 1, "'%s'", prompts[i]);
        cr_expect_str_eq(s.steps[0].text, prompts[i]);
        cr_expect_eq(s.steps[0].end_at_step, 10);
        sdc_prompt_schedule_free(&s);
    }
}

static char *repeat(const char *unit, size_t times)
{
    size_t u = strlen(unit);
    char *s = malloc(u * times + 1);
    cr_assert(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * u, unit, u);
    s[u * times] = '\0';
    return s;
}

/* Deep nesting is plain text (no deep recursion); megabyte bracket soups parse in linear
 * time; a schedule that would hold gigabytes is refused. */
Test(prompt_schedule, hostile_prompts_are_bounded, .timeout = 20)
{
    const char *units[] = {"[", "[a:", "(", "[a|", "[[a:b:1]|", "]:)|", "(a:[b:"};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        char *p = repeat(units[i], (1u << 20) / strlen(units[i]));
        sdc_prompt_schedule s;
        cr_assert_eq(sdc_prompt_schedule_build(p, 20, 0, &s), SDC_OK, "unit '%s'", units[i]);
        cr_expect_eq(s.count, 1, "unit '%s'", units[i]);
        cr_expect_str_eq(s.steps[0].text, p);
        sdc_prompt_schedule_free(&s);
        free(p);
    }
    char *wide = repeat("[a|b] ", 1u << 17);
    sdc_prompt_schedule s;
    cr_expect_eq(sdc_prompt_schedule_build(wide, 1000, 0, &s), SDC_ERR_ARG);
    cr_expect_eq(sdc_prompt_schedule_build(wide, 3, 0, &s), SDC_OK);
    cr_expect_eq(s.count, 3);
    sdc_prompt_schedule_free(&s);
    free(wide);
}

/* The sampler names of the golden cases as sdc spells them. */
static const char *sdc_sampler_of(const char *golden)
{
    return strncmp(golden, "dpmpp_2m", 8) == 0 ? "dpm++2m" : golden;
}

/* Each trajectory's model calls use the texts its manifest lists: sub-prompts in order,
 * then the negative; schedules over sdc_sampler_schedule_steps (2 x steps for Heun). */
Test(prompt_schedule, golden_trajectories_model_call_texts)
{
    json_t *m = golden_set_manifest("prompts"), *c;
    size_t i, checked = 0;
    json_array_foreach(json_object_get(m, "cases"), i, c) {
        json_t *calls = json_object_get(c, "model_calls");
        if (!calls)
            continue;
        const char *id = json_string_value(json_object_get(c, "id"));
        sdc_generate_params p = sdc_generate_default_params();
        p.prompt = json_string_value(json_object_get(c, "prompt"));
        p.negative_prompt = json_string_value(json_object_get(c, "negative_prompt"));
        p.steps = (int)json_integer_value(json_object_get(c, "steps"));
        p.cfg_scale = (float)json_number_value(json_object_get(c, "cfg_scale"));
        int kind = sdc_sampler_from_name(
            sdc_sampler_of(json_string_value(json_object_get(c, "sampler"))));
        cr_assert(kind >= 0, "%s: sampler", id);
        int steps = sdc_sampler_schedule_steps((sdc_sampler_kind)kind, p.steps);
        cr_expect_eq(steps, json_integer_value(json_object_get(c, "schedule_steps")), "%s", id);
        sdc_prompt_plan plan;
        cr_assert_eq(sdc_prompt_plan_parse(&p, steps, 0, &plan), SDC_OK, "%s", id);
        size_t k;
        json_t *call;
        json_array_foreach(calls, k, call) {
            int step = (int)json_integer_value(json_object_get(call, "step"));
            json_t *texts = json_object_get(call, "texts");
            cr_expect_eq((size_t)plan.subprompts, json_array_size(texts), "%s", id);
            for (int r = 0; r < plan.subprompts && (size_t)r < json_array_size(texts); r++)
                cr_expect_str_eq(sdc_prompt_plan_text(&plan, r, step),
                                 json_string_value(json_array_get(texts, (size_t)r)),
                                 "%s call %d row %d", id, step, r);
            cr_expect_str_eq(sdc_prompt_plan_text(&plan, plan.subprompts, step),
                             json_string_value(json_object_get(call, "negative")),
                             "%s call %d negative", id, step);
        }
        cr_expect_eq(sdc_prompt_plan_rows(&plan), plan.subprompts + 1, "%s", id);
        sdc_prompt_plan_free(&plan);
        checked++;
    }
    cr_expect_eq(checked, 3);
    json_decref(m);
}

/* Without emphasis (strict diffusers mode) the prompt is one text as written. */
Test(prompt_schedule, strict_mode_takes_prompts_as_written)
{
    sdc_generate_params p = sdc_generate_default_params();
    p.prompt = "a [b:c:2] AND d :0.5";
    p.negative_prompt = "[x|y]";
    p.emphasis = 0;
    sdc_prompt_plan plan;
    cr_assert_eq(sdc_prompt_plan_parse(&p, 4, 0, &plan), SDC_OK);
    cr_expect_eq(plan.subprompts, 1);
    cr_expect(plan.single);
    for (int call = 0; call < 5; call++) {
        cr_expect_str_eq(sdc_prompt_plan_text(&plan, 0, call), p.prompt);
        cr_expect_str_eq(sdc_prompt_plan_text(&plan, 1, call), p.negative_prompt);
    }
    sdc_prompt_plan_free(&plan);
}

/* AND weights need the negative row even without CFG (A1111 mixes them around it). */
Test(prompt_schedule, weights_make_a_negative_row)
{
    sdc_generate_params p = sdc_generate_default_params();
    p.cfg_scale = 1.0f;
    p.prompt = "a";
    sdc_prompt_plan plan;
    cr_assert_eq(sdc_prompt_plan_parse(&p, 4, 0, &plan), SDC_OK);
    cr_expect_eq(sdc_prompt_plan_rows(&plan), 1);
    sdc_prompt_plan_free(&plan);
    p.prompt = "a :0.5";
    cr_assert_eq(sdc_prompt_plan_parse(&p, 4, 0, &plan), SDC_OK);
    cr_expect_eq(sdc_prompt_plan_rows(&plan), 2);
    cr_expect_eq(plan.scale[0], 0.5f);
    sdc_prompt_plan_free(&plan);
    p.cfg_scale = 7.5f;
    p.prompt = "a :1.0 AND b :0.6";
    cr_assert_eq(sdc_prompt_plan_parse(&p, 4, 0, &plan), SDC_OK);
    cr_expect_eq(sdc_prompt_plan_rows(&plan), 3);
    cr_expect_eq(plan.scale[0], 7.5f);
    cr_expect_eq(plan.scale[1], (float)(0.6 * 7.5));
    sdc_prompt_plan_free(&plan);
}

/* The hires fix's second pass (pipeline/hires.c): its schedules are AUTOMATIC1111's hires
 * ones, `when` counting on from the first pass's steps: [red:blue:5] after a 4-step first
 * pass ends at the second pass's step 1 of 3 (blue from call 2); a fraction counts from 1.0
 * (1.5 of 3 steps: the same). */
Test(prompt_schedule, hires_pass_counts_on_from_the_first)
{
    sdc_generate_params p = sdc_generate_default_params();
    p.prompt = "a [red:blue:5] apple";
    p.negative_prompt = "[dark:bright:1.5]";
    sdc_prompt_plan plan;
    cr_assert_eq(sdc_prompt_plan_parse(&p, 4, 3, &plan), SDC_OK);
    for (int call = 0; call < 3; call++) {
        sdc_prompt_schedule want;
        cr_assert_eq(sdc_prompt_schedule_build(p.prompt, 4, 3, &want), SDC_OK);
        cr_expect_str_eq(sdc_prompt_plan_text(&plan, 0, call),
                         sdc_prompt_schedule_at(&want, call), "call %d", call);
        sdc_prompt_schedule_free(&want);
    }
    cr_expect_str_eq(sdc_prompt_plan_text(&plan, 0, 0), "a red apple");
    cr_expect_str_eq(sdc_prompt_plan_text(&plan, 0, 1), "a red apple");
    cr_expect_str_eq(sdc_prompt_plan_text(&plan, 0, 2), "a blue apple");
    cr_expect_str_eq(sdc_prompt_plan_text(&plan, 1, 0), "dark");
    cr_expect_str_eq(sdc_prompt_plan_text(&plan, 1, 2), "bright");
    sdc_prompt_plan_free(&plan);
}
