/* AUTOMATIC1111 emphasis parser against golden/tokenizer/prompt_attention.json, malformed
 * input, and the 75-token chunking (BREAK, comma backtrack, padding, weights). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clip/prompt_attention.h"
#include "clip/prompt_chunks.h"
#include "clip/tokenizer.h"
#include "ops/error.h"
#include "tests/golden.h"

/* The manifest's rule for weights: float64 products, compared to 1e-12 relative. */
#define WEIGHT_RTOL 1e-12

typedef struct expected_run {
    const char *text;
    double weight;
} expected_run;

static void expect_runs(const char *prompt, const expected_run *want, size_t n_want)
{
    sdc_prompt_run *runs;
    size_t n;
    cr_assert_eq(sdc_prompt_parse_attention(prompt, &runs, &n), SDC_OK, "'%s': %s", prompt,
                 sdc_last_error());
    cr_expect_eq(n, n_want, "'%s': %zu runs, want %zu", prompt, n, n_want);
    for (size_t i = 0; i < n && i < n_want; i++) {
        cr_expect_str_eq(runs[i].text, want[i].text, "'%s' run %zu", prompt, i);
        double tol = WEIGHT_RTOL * fabs(want[i].weight);
        cr_expect(fabs(runs[i].weight - want[i].weight) <= tol,
                  "'%s' run %zu: weight %.17g want %.17g", prompt, i, runs[i].weight,
                  want[i].weight);
    }
    sdc_prompt_runs_free(runs, n);
}

static void check_golden_case(json_t *c)
{
    const char *text = json_string_value(json_object_get(c, "text"));
    json_t *runs = json_object_get(c, "runs");
    if (json_is_null(runs)) {
        /* the reference raises: sdc must only fail cleanly */
        sdc_prompt_run *got;
        size_t n;
        sdc_status st = sdc_prompt_parse_attention(text, &got, &n);
        cr_expect(st == SDC_OK || st == SDC_ERR_ARG, "'%s': status %d", text, st);
        if (st == SDC_OK)
            sdc_prompt_runs_free(got, n);
        return;
    }
    size_t n = json_array_size(runs);
    expected_run *want = calloc(n ? n : 1, sizeof *want);
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(runs, i);
        want[i].text = json_string_value(json_array_get(r, 0));
        want[i].weight = json_number_value(json_array_get(r, 1));
        cr_assert(want[i].text);
    }
    expect_runs(text, want, n);
    free(want);
}

Test(prompt_attention, golden_cases)
{
    json_error_t err;
    json_t *root = json_load_file(golden_path("tokenizer/prompt_attention.json"), 0, &err);
    cr_assert(root, "prompt_attention.json:%d: %s", err.line, err.text);
    json_t *cases = json_object_get(root, "cases");
    cr_assert_gt(json_array_size(cases), 0);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) check_golden_case(c);
    json_decref(root);
}

Test(prompt_attention, invalid_weight_is_an_error)
{
    static const char *const bad[] = {"(word:1.2.3)", "(x:.)", "(x:..5)", "((a:1..2))"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sdc_prompt_run *runs = (sdc_prompt_run *)&runs;
        size_t n = 3;
        cr_expect_eq(sdc_prompt_parse_attention(bad[i], &runs, &n), SDC_ERR_ARG, "%s", bad[i]);
        cr_expect(strstr(sdc_last_error(), "is not a number"), "%s", sdc_last_error());
        cr_expect_null(runs);
        cr_expect_eq(n, 0);
    }
    /* without an open bracket the same text is plain */
    expect_runs("word:1.2.3)", (expected_run[]){{"word:1.2.3)", 1.0}}, 1);
}

Test(prompt_attention, unbalanced_and_escaped_brackets)
{
    expect_runs("((a) b", (expected_run[]){{"a", 1.1 * 1.1}, {" b", 1.1}}, 2);
    expect_runs("a]) [b", (expected_run[]){{"a]) ", 1.0}, {"b", 1.0 / 1.1}}, 2);
    /* ":2]" is no weight (it needs ")"): the colon and the 2 are text */
    expect_runs("[(a:2]", (expected_run[]){{"a:2", 1.0 * (1.0 / 1.1) * 1.1}}, 1);
    expect_runs("\\\\(x\\)", (expected_run[]){{"\\", 1.0}, {"x)", 1.1}}, 2);
    expect_runs("trailing \\", (expected_run[]){{"trailing ", 1.0}}, 1);
    expect_runs(":::", (expected_run[]){{":::", 1.0}}, 1);
    expect_runs("(a:1.5 )(b :2)", (expected_run[]){{"a", 1.5}, {"b ", 2.0}}, 2);
}

Test(prompt_attention, break_rules)
{
    expect_runs("a\tBREAK\nb", (expected_run[]){{"a", 1}, {"BREAK", -1}, {"b", 1}}, 3);
    expect_runs("BREAK", (expected_run[]){{"", 1}, {"BREAK", -1}, {"", 1}}, 3);
    expect_runs("x_BREAK \u00e9BREAK BREAK1", (expected_run[]){{"x_BREAK \u00e9BREAK BREAK1", 1}},
                1);
    expect_runs("a,BREAK.b", (expected_run[]){{"a,", 1}, {"BREAK", -1}, {".b", 1}}, 3);
    /* inside brackets the separator run is weighted too, and then no longer a break */
    sdc_prompt_run *runs;
    size_t n;
    cr_assert_eq(sdc_prompt_parse_attention("(a BREAK b)", &runs, &n), SDC_OK);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(runs[1].text, "BREAK");
    cr_expect_eq(runs[1].weight, -1.0 * 1.1);
    cr_expect_not(sdc_prompt_run_is_break(&runs[1]));
    sdc_prompt_runs_free(runs, n);
}

Test(prompt_attention, unicode_digits_and_spaces)
{
    /* Python's \d, \s and float() accept any decimal digits and Unicode spaces */
    expect_runs("(a:\u0661.\u0665)", (expected_run[]){{"a", 1.5}}, 1);
    expect_runs("(a:\u3000 2\u00a0)", (expected_run[]){{"a", 2.0}}, 1);
    expect_runs("(a:\uff12)", (expected_run[]){{"a", 2.0}}, 1);
}

Test(prompt_attention, malformed_input)
{
    sdc_prompt_run *runs;
    size_t n;
    cr_expect_eq(sdc_prompt_parse_attention("bad \xff utf8", &runs, &n), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "invalid UTF-8 at byte 4"), "%s", sdc_last_error());
    cr_expect_eq(sdc_prompt_parse_attention(NULL, &runs, &n), SDC_ERR_ARG);
    char deep[2 * SDC_PROMPT_MAX_NESTING + 8];
    memset(deep, '(', SDC_PROMPT_MAX_NESTING + 1);
    strcpy(deep + SDC_PROMPT_MAX_NESTING + 1, "x");
    cr_expect_eq(sdc_prompt_parse_attention(deep, &runs, &n), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "brackets open"), "%s", sdc_last_error());
    deep[1] = 'y'; /* now within the limit */
    cr_assert_eq(sdc_prompt_parse_attention(deep, &runs, &n), SDC_OK);
    sdc_prompt_runs_free(runs, n);
}

Test(prompt_attention, huge_prompt)
{
    size_t reps = 100000;
    const char *unit = "(a [b:0.5] ((c) ";
    size_t ul = strlen(unit);
    char *text = malloc(reps * 32 + 1);
    for (size_t i = 0; i < reps; i++)
        memcpy(text + i * ul, unit, ul);
    text[reps * ul] = '\0';
    sdc_prompt_run *runs;
    size_t n;
    /* opens more brackets than it closes: the nesting limit trips */
    cr_expect_eq(sdc_prompt_parse_attention(text, &runs, &n), SDC_ERR_ARG);
    unit = "(a) [b:0.5] ((c)), ";
    ul = strlen(unit);
    for (size_t i = 0; i < reps; i++)
        memcpy(text + i * ul, unit, ul);
    text[reps * ul] = '\0';
    cr_assert_eq(sdc_prompt_parse_attention(text, &runs, &n), SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(n, 6 * reps);
    sdc_prompt_runs_free(runs, n);
    free(text);
}

/* ---- chunks -------------------------------------------------------------------------- */

static sdc_tokenizer *load_tokenizer(void)
{
    sdc_tokenizer *tok;
    cr_assert_eq(sdc_tokenizer_load(NULL, vocab_path(), &tok), SDC_OK, "%s",
                 sdc_last_error());
    return tok;
}

static sdc_token_chunk *chunks_of(const sdc_tokenizer *tok, const char *prompt, int pad,
                                  int emphasis, size_t *count)
{
    sdc_token_chunk *chunks;
    cr_assert_eq(sdc_prompt_to_chunks(tok, prompt, pad, emphasis, &chunks, count), SDC_OK,
                 "'%s': %s", prompt, sdc_last_error());
    cr_assert_gt(*count, 0);
    return chunks;
}

/* "word " repeated n times (n <= 200), appended to buf. */
static void repeat(char *buf, const char *word, int n)
{
    for (int i = 0; i < n; i++) {
        strcat(buf, word);
        strcat(buf, " ");
    }
}

Test(prompt_chunks, plain_prompt_is_the_golden_window)
{
    sdc_tokenizer *tok = load_tokenizer();
    sdc_safetensors *st = golden_open("tokenizer/ids.safetensors");
    const char *prompt = "a photograph of an astronaut riding a horse"; /* case 0 */
    const char *names[2] = {"sd1_77.0", "sd2_77.0"};
    int pads[2] = {SDC_CLIP_PAD_SD1, SDC_CLIP_PAD_SD2};
    for (int k = 0; k < 2; k++) {
        for (int emphasis = 0; emphasis < 2; emphasis++) {
            size_t count;
            sdc_token_chunk *c = chunks_of(tok, prompt, pads[k], emphasis, &count);
            cr_expect_eq(count, 1);
            long long *want = golden_i64(golden_get(st, names[k]));
            for (int i = 0; i < SDC_CLIP_CONTEXT; i++) {
                cr_expect_eq(c->ids[i], want[i], "%s emphasis %d [%d]", names[k], emphasis, i);
                cr_expect_eq(c->weights[i], 1.0f);
            }
            free(want);
            free(c);
        }
    }
    sdc_safetensors_close(st);
    sdc_tokenizer_free(tok);
}

Test(prompt_chunks, weights_follow_the_runs)
{
    sdc_tokenizer *tok = load_tokenizer();
    size_t count;
    sdc_token_chunk *c = chunks_of(tok, "an (important:1.5) [word]", SDC_CLIP_PAD_SD1, 1, &count);
    cr_assert_eq(count, 1);
    int32_t an = sdc_tokenizer_token_id(tok, "an</w>");
    int32_t important = sdc_tokenizer_token_id(tok, "important</w>");
    int32_t word = sdc_tokenizer_token_id(tok, "word</w>");
    int32_t want_ids[5] = {49406, an, important, word, 49407};
    float want_w[5] = {1.0f, 1.0f, 1.5f, (float)(1.0 / 1.1), 1.0f};
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(c->ids[i], want_ids[i], "[%d]", i);
        cr_expect_eq(c->weights[i], want_w[i], "[%d] %g", i, (double)c->weights[i]);
    }
    free(c);
    /* without the syntax the brackets are text and every weight is 1 */
    c = chunks_of(tok, "an (important:1.5)", SDC_CLIP_PAD_SD1, 0, &count);
    cr_expect_neq(c->ids[2], important);
    for (int i = 0; i < SDC_CLIP_CONTEXT; i++)
        cr_expect_eq(c->weights[i], 1.0f);
    free(c);
    sdc_tokenizer_free(tok);
}

Test(prompt_chunks, break_and_empty_prompts)
{
    sdc_tokenizer *tok = load_tokenizer();
    size_t count;
    sdc_token_chunk *c = chunks_of(tok, "first part BREAK second part", SDC_CLIP_PAD_SD2, 1,
                                   &count);
    cr_assert_eq(count, 2);
    for (int k = 0; k < 2; k++) {
        cr_expect_eq(c[k].ids[0], 49406);
        cr_expect_eq(c[k].ids[3], 49407, "chunk %d ends after two tokens", k);
        for (int i = 4; i < SDC_CLIP_CONTEXT; i++)
            cr_expect_eq(c[k].ids[i], 0, "chunk %d [%d] is SD 2.x padding", k, i);
    }
    free(c);
    c = chunks_of(tok, "", SDC_CLIP_PAD_SD1, 1, &count);
    cr_expect_eq(count, 1);
    cr_expect_eq(c->ids[0], 49406);
    for (int i = 1; i < SDC_CLIP_CONTEXT; i++)
        cr_expect_eq(c->ids[i], 49407);
    free(c);
    /* a trailing BREAK closes the chunk without opening an empty one */
    c = chunks_of(tok, "cat BREAK", SDC_CLIP_PAD_SD1, 1, &count);
    cr_expect_eq(count, 1);
    free(c);
    sdc_tokenizer_free(tok);
}

Test(prompt_chunks, long_prompts_and_comma_backtrack)
{
    sdc_tokenizer *tok = load_tokenizer();
    int32_t cat = sdc_tokenizer_token_id(tok, "cat</w>");
    int32_t dog = sdc_tokenizer_token_id(tok, "dog</w>");
    int32_t comma = sdc_tokenizer_token_id(tok, ",</w>");
    static char buf[4096];
    size_t count;

    buf[0] = '\0';
    repeat(buf, "cat", 100);
    sdc_token_chunk *c = chunks_of(tok, buf, SDC_CLIP_PAD_SD1, 1, &count);
    cr_assert_eq(count, 2);
    cr_expect_eq(c[0].ids[75], cat);
    cr_expect_eq(c[1].ids[25], cat);
    cr_expect_eq(c[1].ids[26], 49407);
    free(c);

    /* comma 5 tokens before the overflow: the 4 tokens after it move on */
    buf[0] = '\0';
    repeat(buf, "cat", 70);
    strcat(buf, ", ");
    repeat(buf, "dog", 10);
    c = chunks_of(tok, buf, SDC_CLIP_PAD_SD1, 1, &count);
    cr_assert_eq(count, 2);
    cr_expect_eq(c[0].ids[70], cat);
    cr_expect_eq(c[0].ids[71], comma);
    for (int i = 72; i < SDC_CLIP_CONTEXT; i++)
        cr_expect_eq(c[0].ids[i], 49407, "[%d]", i);
    for (int i = 1; i <= 10; i++)
        cr_expect_eq(c[1].ids[i], dog, "[%d]", i);
    cr_expect_eq(c[1].ids[11], 49407);
    free(c);

    /* comma 25 tokens back: too far, the chunk is cut at 75 */
    buf[0] = '\0';
    repeat(buf, "cat", 50);
    strcat(buf, ", ");
    repeat(buf, "dog", 40);
    c = chunks_of(tok, buf, SDC_CLIP_PAD_SD1, 1, &count);
    cr_assert_eq(count, 2);
    cr_expect_eq(c[0].ids[51], comma);
    cr_expect_eq(c[0].ids[75], dog);
    cr_expect_eq(c[1].ids[1], dog);
    cr_expect_eq(c[1].ids[16], dog);
    cr_expect_eq(c[1].ids[17], 49407);
    free(c);

    /* plain mode truncates to one chunk */
    buf[0] = '\0';
    repeat(buf, "cat", 100);
    c = chunks_of(tok, buf, SDC_CLIP_PAD_SD1, 0, &count);
    cr_expect_eq(count, 1);
    cr_expect_eq(c->ids[75], cat);
    cr_expect_eq(c->ids[76], 49407);
    free(c);
    sdc_tokenizer_free(tok);
}

Test(prompt_chunks, errors_are_reported)
{
    sdc_tokenizer *tok = load_tokenizer();
    sdc_token_chunk *c = (sdc_token_chunk *)&c;
    size_t count = 9;
    cr_expect_eq(sdc_prompt_to_chunks(tok, "(x:1.2.3)", 0, 1, &c, &count), SDC_ERR_ARG);
    cr_expect_null(c);
    cr_expect_eq(count, 0);
    cr_expect_eq(sdc_prompt_to_chunks(tok, "a \xc3", 0, 0, &c, &count), SDC_ERR_ARG);
    cr_expect_eq(sdc_prompt_to_chunks(tok, "a \xc3", 0, 1, &c, &count), SDC_ERR_ARG);
    sdc_tokenizer_free(tok);
}
