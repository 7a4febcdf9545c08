/* sdc batch, the parts that need no model: job files, name templates, shards, the report and
 * the contact sheet. the scripts in tests/batch run the whole command on the golden tiny model. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/batch_font.h"
#include "cmd/batch_grid.h"
#include "cmd/batch_jobs.h"
#include "cmd/batch_report.h"
#include "cmd/batch_template.h"

static sdc_cli_options defaults;

/* The command line `sdc batch -m /dev/null` would give. */
static void reset_defaults(void)
{
    sdc_cli_defaults(&defaults);
    defaults.output = NULL;
    defaults.gen.prompt = NULL;
    defaults.model = "/dev/null";
}

static sdc_batch_jobs parse_as(const char *text, sdc_batch_format format, const char *dir,
                               int trust)
{
    sdc_batch_jobs jobs;
    cr_assert_eq(sdc_batch_jobs_parse(text, strlen(text), format, &defaults, dir, trust, &jobs),
                 SDC_OK);
    return jobs;
}

static sdc_batch_jobs parse(const char *text, sdc_batch_format format, const char *dir)
{
    return parse_as(text, format, dir, 0);
}

static char *expand(const char *tmpl, int index, int image, uint64_t seed, const char *prompt)
{
    sdc_batch_name_fields f = {index, image, seed, prompt, "/models/v1-5-pruned.safetensors"};
    char *name = NULL;
    sdc_status s = sdc_batch_name_expand(tmpl, &f, &name);
    return s == SDC_OK ? name : NULL;
}

TestSuite(batch_template);

Test(batch_template, fields_and_padding)
{
    char *n = expand("{index:05}-{image}-{seed}.png", 7, 1, 42, "x");
    cr_assert_str_eq(n, "00007-1-42.png");
    free(n);
    n = expand("{model}/{prompt}.png", 0, 0, 1, "A red fox, (detailed:1.2) at dawn!");
    cr_assert_str_eq(n, "v1-5-pruned/a-red-fox-detailed-1-2-at-dawn.png");
    free(n);
    n = expand("{prompt:9}_{seed:03}.jpg", 0, 0, 5, "hello wonderful world");
    cr_assert_str_eq(n, "hello_005.jpg", "a slug is cut at a word, not in one");
    free(n);
    n = expand("{{literal}}-{index}.png", 3, 0, 0, "");
    cr_assert_str_eq(n, "{literal}-3.png");
    free(n);
    n = expand("{prompt}.png", 0, 0, 0, "\xe7\x8c\xab !!");
    cr_assert_str_eq(n, "prompt.png", "a prompt with no ASCII letters still gives a name");
    free(n);
}

Test(batch_template, default_prompt_slug_is_bounded)
{
    char prompt[400];
    for (int i = 0; i < 399; i++)
        prompt[i] = i % 5 == 4 ? ' ' : 'a';
    prompt[399] = '\0';
    char *n = expand("{prompt}", 0, 0, 0, prompt);
    cr_assert_leq(strlen(n), 48);
    free(n);
}

Test(batch_template, errors_name_the_template)
{
    const char *bad[] = {"{nope}.png", "{index:5}.png", "{index:x}.png", "{index.png",
                         "index}.png", "{}.png", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_null(expand(bad[i], 0, 0, 0, "p"), "template '%s' accepted", bad[i]);
    expand("{nope}.png", 0, 0, 0, "p");
    cr_assert(strstr(sdc_last_error(), "{nope}.png"));
}

TestSuite(batch_jobs, .init = reset_defaults);

Test(batch_jobs, json_lines_override_defaults)
{
    defaults.gen.steps = 9;
    defaults.gen.width = 64;
    sdc_batch_jobs jobs = parse(
        "# comment\n"
        "\n"
        "{\"prompt\": \"a fox\", \"seed\": 7, \"cfg-scale\": 5.5, \"sampling-method\": \"ddim\"}\n"
        "  {\"prompt\": \"b\", \"steps\": 3, \"vae-tiling\": true, \"no-emphasis\": true,"
        " \"negative-prompt\": null, \"freeu\": [1.5, 1.6, 0.9, 0.2]}\r\n"
        "{\"prompt\": \"c\", \"seed\": \"18446744073709551615\", \"batch-count\": 2,"
        " \"no-vae-tiling\": true,"
        " \"output\": \"{index}_{image}.png\"}\n",
        SDC_BATCH_FORMAT_AUTO, "out");
    cr_assert_eq(jobs.count, 3);
    const sdc_batch_job *a = &jobs.items[0], *b = &jobs.items[1], *c = &jobs.items[2];
    cr_assert_null(a->error, "%s", a->error);
    cr_assert_eq(a->line, 3);
    cr_assert_eq(a->index, 0);
    cr_assert_str_eq(a->opt.gen.prompt, "a fox");
    cr_assert_eq(a->opt.gen.seed, 7);
    cr_assert_float_eq(a->opt.gen.cfg_scale, 5.5f, 0);
    cr_assert_str_eq(a->opt.gen.sampler, "ddim");
    cr_assert_eq(a->opt.gen.steps, 9, "the command line's value is the default");
    cr_assert_eq(a->opt.gen.width, 64);
    cr_assert_str_eq(a->outputs[0], "out/00000-7.png");
    cr_assert_null(b->error, "%s", b->error);
    cr_assert_eq(b->line, 4);
    cr_assert_eq(b->opt.gen.steps, 3);
    cr_assert_eq(a->opt.gen.vae_tiling, SDC_VAE_TILING_AUTO, "the default");
    cr_assert_eq(b->opt.gen.vae_tiling, 1);
    cr_assert_not(b->opt.gen.emphasis);
    cr_assert(b->opt.gen.freeu);
    cr_assert_float_eq(b->opt.gen.freeu_s2, 0.2f, 0);
    cr_assert_null(c->error, "%s", c->error);
    cr_assert_eq(c->opt.gen.seed, UINT64_MAX);
    cr_assert_eq(c->opt.gen.vae_tiling, 0, "--no-vae-tiling");
    cr_assert_str_eq(c->outputs[0], "out/2_0.png");
    cr_assert_str_eq(c->outputs[1], "out/2_1.png");
    sdc_batch_jobs_free(&jobs);
}

/* Job files written for AUTOMATIC1111: its sampler and schedule names, and the combined
 * "sampler schedule" names of its older versions. */
Test(batch_jobs, automatic1111_sampler_names)
{
    sdc_batch_jobs jobs = parse(
        "{\"prompt\": \"a\", \"sampling-method\": \"DPM++ 2M SDE\","
        " \"scheduler\": \"Karras\"}\n"
        "{\"prompt\": \"b\", \"sampling-method\": \"DPM++ 2M SDE Karras\"}\n"
        "{\"prompt\": \"c\", \"sampling-method\": \"DPM++ SDE\"}\n"
        "{\"prompt\": \"d\", \"sampling-method\": \"DPM2 a Exponential\"}\n"
        "{\"prompt\": \"e\", \"sampling-method\": \"DPM++ 2M SDE Nope\"}\n"
        "{\"prompt\": \"f\", \"sampling-method\": \"Euler a\","
        " \"scheduler\": \"Automatic\"}\n",
        SDC_BATCH_FORMAT_AUTO, "out");
    cr_assert_eq(jobs.count, 6);
    const char *want[][2] = {{"dpm++2m_sde", "karras"}, {"dpm++2m_sde", "karras"},
                             {"dpm++sde", NULL}, {"dpm2_a", "exponential"}, {NULL, NULL},
                             {"euler_a", NULL}};
    for (int i = 0; i < 6; i++) {
        const sdc_batch_job *j = &jobs.items[i];
        if (!want[i][0]) {
            cr_expect(j->error && strstr(j->error, "DPM++ 2M SDE Nope"), "job %d", i);
            continue;
        }
        cr_assert_null(j->error, "job %d: %s", i, j->error);
        cr_expect_str_eq(j->opt.gen.sampler, want[i][0], "job %d", i);
        if (want[i][1])
            cr_expect_str_eq(j->opt.gen.scheduler, want[i][1], "job %d", i);
        else
            cr_expect_null(j->opt.gen.scheduler, "job %d", i);
    }
    sdc_batch_jobs_free(&jobs);
}

Test(batch_jobs, bad_lines_carry_their_line_numbers)
{
    sdc_batch_jobs jobs = parse(
        "{\"prompt\": \"ok\"}\n"
        "{\"prompt\": \"broken\n"
        "[1, 2]\n"
        "{\"prompt\": \"x\", \"steps\": \"many\"}\n"
        "{\"prompt\": \"x\", \"bogus\": 1}\n"
        "{\"prompt\": \"x\", \"quiet\": true}\n"
        "{\"prompt\": \"x\", \"seed\": 1, \"seed\": 2}\n"
        "{\"steps\": 4}\n"
        "{\"prompt\": \"x\", \"mask\": \"/dev/null\"}\n"
        "{\"prompt\": \"x\", \"init-img\": \"/nonexistent/init.png\"}\n"
        "{\"prompt\": \"x\", \"vae-tiling\": \"maybe\"}\n"
        "{\"prompt\": \"x\", \"width\": {\"a\": 1}}\n"
        "{\"prompt\": \"x\", \"output\": \"{nope}.png\"}\n"
        "{\"prompt\": \"x\", \"output\": \"name.gif\"}\n"
        "{\"prompt\": \"last\", \"seed\": 3}\n",
        SDC_BATCH_FORMAT_AUTO, NULL);
    cr_assert_eq(jobs.count, 15);
    const char *expect[] = {NULL, "invalid JSON", "JSON object", "--steps", "'bogus'",
                            "whole run", "duplicate", "no prompt", "init image",
                            "/nonexistent/init.png", "true or false", "objects",
                            "{nope}", ".png", NULL};
    for (int i = 0; i < jobs.count; i++) {
        const sdc_batch_job *job = &jobs.items[i];
        cr_assert_eq(job->line, i + 1);
        cr_assert_eq(job->index, i, "bad lines keep their index, so names do not shift");
        if (!expect[i]) {
            cr_assert_null(job->error, "line %d: %s", i + 1, job->error);
            continue;
        }
        cr_assert_not_null(job->error, "line %d accepted", i + 1);
        cr_assert(strstr(job->error, expect[i]), "line %d: '%s' lacks '%s'", i + 1,
                  job->error, expect[i]);
    }
    cr_assert_str_eq(jobs.items[14].outputs[0], "00014-3.png");
    sdc_batch_jobs_free(&jobs);
}

Test(batch_jobs, colliding_names_fail_the_later_job)
{
    sdc_batch_jobs jobs = parse("{\"prompt\": \"a\", \"output\": \"same.png\"}\n"
                                "{\"prompt\": \"b\", \"output\": \"other.png\"}\n"
                                "{\"prompt\": \"c\", \"output\": \"same.png\"}\n"
                                "{\"prompt\": \"d\", \"output\": \"x.png\", \"batch-count\": 2}\n",
                                SDC_BATCH_FORMAT_JSON, "dir");
    cr_assert_null(jobs.items[0].error);
    cr_assert_null(jobs.items[1].error);
    cr_assert_not_null(jobs.items[2].error);
    cr_assert(strstr(jobs.items[2].error, "dir/same.png"));
    cr_assert(strstr(jobs.items[2].error, "line 1"), "%s", jobs.items[2].error);
    cr_assert_not_null(jobs.items[3].error, "two images of one job with one name");
    sdc_batch_jobs_free(&jobs);
}

Test(batch_jobs, default_names_never_collide)
{
    /* same prompt and seed everywhere, batch counts overlapping in seed */
    sdc_batch_jobs jobs = parse("{\"prompt\": \"a\", \"batch-count\": 3}\n"
                                "{\"prompt\": \"a\", \"seed\": 43}\n"
                                "{\"prompt\": \"a\"}\n"
                                "a\n",
                                SDC_BATCH_FORMAT_JSON, NULL);
    for (int i = 0; i < jobs.count - 1; i++)
        cr_assert_null(jobs.items[i].error, "%s", jobs.items[i].error);
    sdc_batch_jobs_free(&jobs);
}

Test(batch_jobs, plain_text_one_prompt_per_line)
{
    defaults.gen.prompt = "unused default";
    defaults.output = "{index:03}-{prompt}.png";
    sdc_batch_jobs jobs = parse("\xef\xbb\xbf# prompts\n"
                                "a lighthouse at dawn  \n"
                                "\n"
                                "   # indented comment\n"
                                "  (a cat:1.2), {curly} \"quoted\"\r\n",
                                SDC_BATCH_FORMAT_AUTO, NULL);
    cr_assert_eq(jobs.count, 2);
    cr_assert_str_eq(jobs.items[0].opt.gen.prompt, "a lighthouse at dawn");
    cr_assert_eq(jobs.items[0].line, 2);
    cr_assert_str_eq(jobs.items[0].outputs[0], "000-a-lighthouse-at-dawn.png");
    cr_assert_str_eq(jobs.items[1].opt.gen.prompt, "(a cat:1.2), {curly} \"quoted\"");
    cr_assert_eq(jobs.items[1].line, 5);
    cr_assert_str_eq(jobs.items[1].outputs[0], "001-a-cat-1-2-curly-quoted.png");
    sdc_batch_jobs_free(&jobs);
}

Test(batch_jobs, format_can_be_forced)
{
    sdc_batch_jobs jobs = parse("{a plain prompt in braces}\n", SDC_BATCH_FORMAT_TEXT, NULL);
    cr_assert_null(jobs.items[0].error);
    cr_assert_str_eq(jobs.items[0].opt.gen.prompt, "{a plain prompt in braces}");
    sdc_batch_jobs_free(&jobs);
    jobs = parse("{a plain prompt in braces}\n", SDC_BATCH_FORMAT_AUTO, NULL);
    cr_assert_not_null(jobs.items[0].error, "a first line with '{' means JSON Lines");
    sdc_batch_jobs_free(&jobs);
}

Test(batch_jobs, random_seed_is_fixed_at_parse_time)
{
    sdc_batch_jobs jobs = parse("{\"prompt\": \"a\", \"seed\": -1}\n", SDC_BATCH_FORMAT_JSON, NULL);
    cr_assert_null(jobs.items[0].error);
    cr_assert_not(jobs.items[0].opt.seed_random);
    char expected[64];
    snprintf(expected, sizeof expected, "00000-%llu.png",
             (unsigned long long)jobs.items[0].opt.gen.seed);
    cr_assert_str_eq(jobs.items[0].outputs[0], expected);
    sdc_batch_jobs_free(&jobs);
}

Test(batch_jobs, read_from_a_file)
{
    char path[] = "/tmp/sdc-test-batch-XXXXXX.txt";
    int fd = mkstemps(path, 4);
    cr_assert_geq(fd, 0);
    const char *text = "{\"prompt\": \"text file, so not JSON\"}\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    sdc_batch_jobs jobs;
    cr_assert_eq(sdc_batch_jobs_read(path, &defaults, NULL, 0, &jobs), SDC_OK);
    unlink(path);
    cr_assert_eq(jobs.count, 1);
    cr_assert_str_eq(jobs.items[0].opt.gen.prompt, "{\"prompt\": \"text file, so not JSON\"}");
    sdc_batch_jobs_free(&jobs);
    cr_assert_neq(sdc_batch_jobs_read("/nonexistent/jobs.jsonl", &defaults, NULL, 0, &jobs), SDC_OK);
    cr_assert(strstr(sdc_last_error(), "/nonexistent/jobs.jsonl"));
}

TestSuite(batch_shard);

Test(batch_shard, parse)
{
    int k, n;
    cr_assert_eq(sdc_batch_shard_parse("2/3", &k, &n), 0);
    cr_assert_eq(k, 2);
    cr_assert_eq(n, 3);
    const char *bad[] = {"3/3", "-1/3", "0/0", "1", "1/", "/2", "a/b", "1/2x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_neq(sdc_batch_shard_parse(bad[i], &k, &n), 0, "'%s' accepted", bad[i]);
}

Test(batch_shard, shards_partition_the_jobs)
{
    for (int n = 1; n <= 7; n++)
        for (int index = 0; index < 50; index++) {
            int owners = 0;
            for (int k = 0; k < n; k++)
                owners += sdc_batch_in_shard(index, k, n);
            cr_assert_eq(owners, 1, "job %d in %d shards of %d", index, owners, n);
            cr_assert(sdc_batch_in_shard(index, index % n, n));
        }
}

TestSuite(batch_report, .init = reset_defaults);

Test(batch_report, parameters_are_a_job_line)
{
    sdc_batch_jobs jobs = parse("{\"prompt\": \"a fox\", \"negative-prompt\": \"blur\", \"seed\": 5,"
                                " \"cfg-scale\": 7.5, \"steps\": 12, \"scheduler\": \"karras\","
                                " \"rng\": \"cpu\", \"clip-skip\": 2, \"freeu\": \"1.1,1.2,0.9,0.2\","
                                " \"batch-count\": 2}\n",
                                SDC_BATCH_FORMAT_JSON, NULL);
    cr_assert_null(jobs.items[0].error, "%s", jobs.items[0].error);
    json_t *params = sdc_batch_params_json(&jobs.items[0].opt, 6);
    char *line = json_dumps(params, JSON_COMPACT | JSON_REAL_PRECISION(15));
    cr_assert(strstr(line, "\"cfg-scale\":7.5,"), "%s", line);
    cr_assert(strstr(line, "\"seed\":6,"), "%s", line);
    /* the line names the model by its absolute path: one's own report is trusted */
    sdc_batch_jobs again = parse_as(line, SDC_BATCH_FORMAT_JSON, NULL, 1);
    cr_assert_null(again.items[0].error, "%s", again.items[0].error);
    json_t *round = sdc_batch_params_json(&again.items[0].opt, again.items[0].opt.gen.seed);
    cr_assert(json_equal(params, round), "%s", line);
    json_decref(params);
    json_decref(round);
    free(line);
    sdc_batch_jobs_free(&again);
    sdc_batch_jobs_free(&jobs);
}

static char *report_text(json_t *line)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    cr_assert_eq(sdc_batch_report_line(f, line), 0);
    fclose(f);
    return text;
}

Test(batch_report, records_and_summary)
{
    sdc_batch_jobs jobs = parse("{\"prompt\": \"p\", \"seed\": 9}\n{\"prompt\": 1, \"steps\": 0}\n",
                                SDC_BATCH_FORMAT_JSON, NULL);
    sdc_batch_timings t = {0};
    sdc_batch_timings_add(&t, "sampling", 1.25);
    sdc_batch_timings_add(&t, "sampling", 0.5);
    sdc_batch_timings_add(&t, "decoding", 0.25);
    t.total = 2.0004;
    cr_assert_float_eq(sdc_batch_timings_get(&t, "sampling"), 1.75, 1e-12);
    sdc_batch_record done = {&jobs.items[0], 0, "done", jobs.items[0].outputs[0], 9, NULL, &t, NULL};
    char *text = report_text(sdc_batch_record_json(&done));
    cr_assert(strstr(text, "{\"job\":0,\"line\":1,\"image\":0,\"status\":\"done\","
                           "\"output\":\"00000-9.png\",\"seed\":9,\"parameters\":{"), "%s", text);
    cr_assert(strstr(text, "\"timings\":{\"sampling\":1.75,\"decoding\":0.25,"), "%s", text);
    cr_assert(strstr(text, "\"total\":2.0}}\n"), "%s", text);
    free(text);
    sdc_batch_record bad = {&jobs.items[1], -1, "failed", NULL, 0, jobs.items[1].error, NULL,
                            NULL};
    text = report_text(sdc_batch_record_json(&bad));
    cr_assert(strstr(text, "{\"job\":1,\"line\":2,\"status\":\"failed\",\"error\":\"--steps"),
              "%s", text);
    cr_assert_null(strstr(text, "parameters"));
    free(text);
    sdc_batch_summary s = {.jobs = 2, .images = 1, .done = 1, .failed = 1, .model_loads = 1,
                           .shard = 1, .shards = 3, .seconds = 30};
    text = report_text(sdc_batch_summary_json(&s));
    cr_assert_str_eq(text, "{\"summary\":{\"jobs\":2,\"images\":1,\"done\":1,\"skipped\":0,"
                           "\"failed\":1,\"model_loads\":1,\"seconds\":30.0,"
                           "\"images_per_minute\":2.0,\"shard\":\"1/3\"}}\n");
    free(text);
    sdc_batch_jobs_free(&jobs);
}

TestSuite(batch_grid);

static json_t *params(int seed, double cfg, const char *prompt)
{
    return json_pack("{s:s, s:i, s:f, s:i}", "prompt", prompt, "seed", seed, "cfg-scale", cfg,
                     "steps", 20);
}

Test(batch_grid, varying_keys_and_xy_columns)
{
    sdc_batch_grid_item items[12];
    for (int i = 0; i < 12; i++)
        items[i] = (sdc_batch_grid_item){"x.png", params(i % 4, 5 + i / 4, "same")};
    json_t *varying = sdc_batch_grid_varying(items, 12);
    cr_assert_eq(json_array_size(varying), 2);
    cr_assert_str_eq(json_string_value(json_array_get(varying, 0)), "seed");
    cr_assert_str_eq(json_string_value(json_array_get(varying, 1)), "cfg-scale");
    cr_assert_eq(sdc_batch_grid_columns(items, 12, varying), 4, "a row per cfg, a column per seed");
    json_decref(varying);
    varying = sdc_batch_grid_varying(items, 7); /* runs 4 + 3: no clean rows */
    cr_assert_eq(sdc_batch_grid_columns(items, 7, varying), 3);
    json_decref(varying);
    varying = sdc_batch_grid_varying(items, 4); /* only the seed varies */
    cr_assert_eq(json_array_size(varying), 1);
    cr_assert_eq(sdc_batch_grid_columns(items, 4, varying), 2);
    json_decref(varying);
    for (int i = 0; i < 12; i++)
        json_decref(items[i].params);
}

static void write_image(const char *path, int w, int h, uint8_t value)
{
    sdc_image img = {w, h, 3, malloc((size_t)w * h * 3)};
    memset(img.pixels, value, (size_t)w * h * 3);
    cr_assert_eq(sdc_image_write(path, &img, NULL, 1), SDC_OK, "%s", sdc_last_error());
    sdc_image_free(&img);
}

Test(batch_grid, sheet_holds_every_image_and_a_caption)
{
    char dir[] = "/tmp/sdc-test-grid-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char a[64], b[64], sheet_path[64];
    snprintf(a, sizeof a, "%s/a.png", dir);
    snprintf(b, sizeof b, "%s/b.png", dir);
    snprintf(sheet_path, sizeof sheet_path, "%s/grid.png", dir);
    write_image(a, 64, 48, 0);
    write_image(b, 600, 400, 100); /* shrunk to fit a 256-pixel cell */
    sdc_batch_grid_item items[3] = {{a, params(1, 7, "first")}, {b, params(2, 7, "second")},
                                    {"/nonexistent.png", params(3, 7, "third")}};
    cr_assert_eq(sdc_batch_grid_write(sheet_path, items, 3, 0), SDC_OK, "%s", sdc_last_error());
    sdc_image sheet;
    cr_assert_eq(sdc_image_load(sheet_path, &sheet, NULL), SDC_OK);
    /* two columns of 200-pixel thumbnails (600 / 3), two caption lines at scale 2 */
    cr_assert_eq(sheet.width, 8 + 2 * (216 + 8), "width %d", sheet.width);
    int black = 0, gray = 0, ink = 0;
    for (int i = 0; i < sheet.width * sheet.height; i++) {
        const uint8_t *p = sheet.pixels + 3 * i;
        black += p[0] == 0 && p[1] == 0 && p[2] == 0;
        gray += p[0] == 100;
        ink += p[0] == 24;
    }
    cr_assert_eq(black, 64 * 48);
    cr_assert_eq(gray, 200 * 133);
    cr_assert_gt(ink, 100, "captions are drawn");
    sdc_image_free(&sheet);
    for (int i = 0; i < 3; i++)
        json_decref(items[i].params);
    unlink(a);
    unlink(b);
    unlink(sheet_path);
    rmdir(dir);
}

Test(batch_grid, font)
{
    cr_assert_eq(sdc_font_length("seed: 42"), 8);
    cr_assert_eq(sdc_font_length("caf\xc3\xa9"), 4, "one character per code point");
    sdc_image img = {12, 9, 3, calloc(12 * 9, 3)};
    memset(img.pixels, 255, 12 * 9 * 3);
    const uint8_t black[3] = {0, 0, 0};
    cr_assert_eq(sdc_font_draw(&img, 0, 0, 1, "I ", black), 2);
    int inked = 0;
    for (int i = 0; i < 12 * 9; i++)
        inked += img.pixels[3 * i] == 0;
    cr_assert_eq(inked, 3 + 5 + 3, "'I' is a top bar, a stem and a bottom bar; ' ' is empty");
    cr_assert_eq(sdc_font_draw(&img, 10, 5, 3, "W", black), 1, "clipped, not overrun");
    sdc_image_free(&img);
}
