/* The built-in demo model end to end (docs/demo.md). The built `sdc`, given no -m, renders
 * the prompts of tests/demo/prompts.tsv with fixed seeds and its demo defaults; demo_scene.c
 * reads colour, shape, size, position, background and count back from each picture.
 *   - held-out prompts use colour/shape pairs no training picture shows: at least 90% of
 *     all checked attributes must come out right;
 *   - seen prompts use pairs from training (reported, same bar);
 *   - the ceiling: the same analysis of the training renderer's own pictures of these
 *     scenes (tests/demo/renders.png) must be exact.
 * Rendered pictures stay in <build>/demo-test/ for inspection. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo_scene.h"
#include "golden.h"
#include "image/image.h"

extern char **environ;

#define PASS_BAR 0.90

static const char *sdc_program(void)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/cmd/sdc", getenv("SDC_BUILD_DIR"));
    return path;
}

/* Runs argv, stderr into err_path (NULL: inherited); returns the exit status or -1. */
static int run(char *const *argv, const char *err_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (err_path)
        posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int status = -1;
    int ok = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) == 0 &&
             waitpid(pid, &status, 0) == pid;
    posix_spawn_file_actions_destroy(&fa);
    return ok && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *output_dir(void)
{
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/demo-test", getenv("SDC_BUILD_DIR"));
    mkdir(dir, 0755);
    return dir;
}

/* Renders every prompt of `set` with the demo defaults and scores the pictures. */
static demo_score render_set(const char *set)
{
    demo_scene *rows;
    int n = demo_scene_read(source_path("tests/demo/prompts.tsv"), &rows);
    cr_assert_gt(n, 0, "cannot read tests/demo/prompts.tsv");
    demo_score score = {0};
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].set, set) != 0)
            continue;
        char out[1100], seed[32];
        snprintf(out, sizeof out, "%s/%s-%02d.png", output_dir(), set, score.pictures);
        snprintf(seed, sizeof seed, "%lld", rows[i].seed);
        char *argv[] = {(char *)sdc_program(), "-p", rows[i].prompt, "-s", seed, "-o", out,
                        "--overwrite", "--quiet", NULL};
        cr_assert_eq(run(argv, NULL), 0, "sdc failed on '%s'", rows[i].prompt);
        sdc_image img;
        cr_assert_eq(sdc_image_load(out, &img, NULL), SDC_OK, "%s", sdc_last_error());
        cr_assert(img.width == DEMO_SIDE && img.height == DEMO_SIDE, "%s is %dx%d", out,
                  img.width, img.height);
        demo_scene seen;
        demo_scene_analyse(img.pixels, img.width, &seen);
        demo_score_add(&score, &rows[i], &seen);
        sdc_image_free(&img);
    }
    free(rows);
    cr_assert_gt(score.pictures, 0, "no '%s' prompts", set);
    return score;
}

Test(demo, analysis_ceiling)
{
    static const char *const sets[3] = {"heldout", "seen", "train"};
    static const char *const titles[3] = {
        "analysis of the renderer's pictures of the held-out test scenes (ceiling)",
        "analysis of the renderer's pictures of the seen test scenes (ceiling)",
        "analysis of training pictures (ceiling)"};
    demo_scene *rows;
    int n = demo_scene_read(source_path("tests/demo/renders.tsv"), &rows);
    cr_assert_gt(n, 0, "cannot read tests/demo/renders.tsv");
    sdc_image sheet;
    cr_assert_eq(sdc_image_load(source_path("tests/demo/renders.png"), &sheet, NULL), SDC_OK,
                 "%s", sdc_last_error());
    int per_row = sheet.width / DEMO_SIDE;
    demo_score score[3];
    memset(score, 0, sizeof score);
    for (int i = 0; i < n; i++) {
        const uint8_t *tile = sheet.pixels + ((size_t)(i / per_row) * DEMO_SIDE * sheet.width +
                                              (size_t)(i % per_row) * DEMO_SIDE) * 3;
        demo_scene got;
        demo_scene_analyse(tile, sheet.width, &got);
        int k = 0;
        while (k < 2 && strcmp(rows[i].set, sets[k]) != 0)
            k++;
        int before = score[k].all_right;
        demo_score_add(&score[k], &rows[i], &got);
        cr_expect_neq(score[k].all_right, before, "render %d ('%s'): saw %d %s %s %s %s on %s",
                      i, rows[i].prompt, got.count, got.size, got.colour, got.shape,
                      got.position, got.background);
    }
    for (int k = 0; k < 3; k++)
        demo_score_print(&score[k], titles[k]);
    sdc_image_free(&sheet);
    free(rows);
}

Test(demo, heldout_prompts, .timeout = 550)
{
    demo_score s = render_set("heldout");
    demo_score_print(&s, "sdc with the demo model, held-out colour/shape pairs");
    cr_expect_geq(demo_score_overall(&s), PASS_BAR, "held-out accuracy %.1f%% < %.0f%%",
                  100 * demo_score_overall(&s), 100 * PASS_BAR);
}

Test(demo, seen_prompts, .timeout = 550)
{
    demo_score s = render_set("seen");
    demo_score_print(&s, "sdc with the demo model, colour/shape pairs seen in training");
    cr_expect_geq(demo_score_overall(&s), PASS_BAR, "seen-pair accuracy %.1f%% < %.0f%%",
                  100 * demo_score_overall(&s), 100 * PASS_BAR);
}

/* No -m: the demo model, announced on stderr, at its own default size. */
Test(demo, default_model)
{
    char out[1100], err[1100], line[4096];
    snprintf(out, sizeof out, "%s/default.png", output_dir());
    snprintf(err, sizeof err, "%s/default.stderr", output_dir());
    char *argv[] = {(char *)sdc_program(), "-p", "a red circle on a blue background", "-o",
                    out, "--overwrite", NULL};
    cr_assert_eq(run(argv, err), 0);
    FILE *f = fopen(err, "r");
    cr_assert(f);
    int said = 0;
    while (fgets(line, sizeof line, f))
        said |= strstr(line, "using the built-in demo model") != NULL;
    fclose(f);
    cr_expect(said, "stderr does not say the demo model is used");
    sdc_image img;
    cr_assert_eq(sdc_image_load(out, &img, NULL), SDC_OK, "%s", sdc_last_error());
    cr_expect(img.width == DEMO_SIDE && img.height == DEMO_SIDE);
    demo_scene got;
    demo_scene_analyse(img.pixels, img.width, &got);
    cr_expect(strcmp(got.background, "blue") == 0, "background %s", got.background);
    sdc_image_free(&img);

    char *demo_argv[] = {(char *)sdc_program(), "-m", "demo", "-p", "a red circle", "-W", "128",
                         "--steps", "2", "-o", out, "--overwrite", "--quiet", NULL};
    cr_assert_eq(run(demo_argv, NULL), 0);
    cr_assert_eq(sdc_image_load(out, &img, NULL), SDC_OK, "%s", sdc_last_error());
    cr_expect(img.width == 128 && img.height == DEMO_SIDE, "-W 128 with the demo: %dx%d",
              img.width, img.height);
    sdc_image_free(&img);
}

/* Inpainting with the demo: the object under docs/demo-mask.png is repainted in another
 * colour; pixels away from the mask (beyond its blur margin) keep their values. */
Test(demo, inpainting_repaints_the_object)
{
    char first[1100], second[1100];
    snprintf(first, sizeof first, "%s/inpaint-input.png", output_dir());
    snprintf(second, sizeof second, "%s/inpaint-output.png", output_dir());
    char *make[] = {(char *)sdc_program(), "-p",
                    "a large red circle in the center on a white background", "-s", "3", "-o",
                    first, "--overwrite", "--quiet", NULL};
    cr_assert_eq(run(make, NULL), 0);
    char *repaint[] = {(char *)sdc_program(), "-i", first, "--mask",
                       (char *)source_path("docs/demo-mask.png"), "--strength", "1", "-p",
                       "a large blue circle in the center on a white background", "-s", "3",
                       "-o", second, "--overwrite", "--quiet", NULL};
    cr_assert_eq(run(repaint, NULL), 0);
    sdc_image a, b, mask;
    cr_assert_eq(sdc_image_load(first, &a, NULL), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_image_load(second, &b, NULL), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_image_load(source_path("docs/demo-mask.png"), &mask, NULL), SDC_OK);
    cr_assert(a.width == DEMO_SIDE && b.width == DEMO_SIDE && mask.width == DEMO_SIDE);
    demo_scene before, after;
    demo_scene_analyse(a.pixels, DEMO_SIDE, &before);
    demo_scene_analyse(b.pixels, DEMO_SIDE, &after);
    cr_expect_str_eq(before.colour, "red");
    cr_expect_str_eq(after.colour, "blue");
    cr_expect_str_eq(after.background, "white");
    enum { MARGIN = 8 }; /* the default --mask-blur 4 feathers up to ~2 sigma outside */
    int kept = 0, far = 0;
    for (int y = 0; y < DEMO_SIDE; y++)
        for (int x = 0; x < DEMO_SIDE; x++) {
            int near = 0;
            for (int dy = -MARGIN; dy <= MARGIN && !near; dy++)
                for (int dx = -MARGIN; dx <= MARGIN && !near; dx++) {
                    int u = x + dx, v = y + dy;
                    near = u >= 0 && v >= 0 && u < DEMO_SIDE && v < DEMO_SIDE &&
                           mask.pixels[(v * DEMO_SIDE + u) * 3] > 127;
                }
            if (near)
                continue;
            far++;
            kept += memcmp(a.pixels + (y * DEMO_SIDE + x) * 3, b.pixels + (y * DEMO_SIDE + x) * 3,
                           3) == 0;
        }
    cr_expect_gt(far, 0);
    cr_expect_eq(kept, far, "%d of %d pixels away from the mask changed", far - kept, far);
    sdc_image_free(&a);
    sdc_image_free(&b);
    sdc_image_free(&mask);
}

/* sdc batch: jobs without a model use the demo model at its size. */
Test(demo, batch_without_a_model)
{
    char jobs[1100], dir[1100], out[1200];
    snprintf(jobs, sizeof jobs, "%s/jobs.txt", output_dir());
    snprintf(dir, sizeof dir, "%s/batch", output_dir());
    FILE *f = fopen(jobs, "w");
    cr_assert(f);
    fputs("a small blue circle\n{\"prompt\": \"two red squares\", \"model\": \"demo\"}\n", f);
    fclose(f);
    char *argv[] = {(char *)sdc_program(), "batch", jobs, "--output-dir", dir, "-o",
                    "{index}.png", "--overwrite", "--quiet", NULL};
    cr_assert_eq(run(argv, NULL), 0);
    for (int i = 0; i < 2; i++) {
        snprintf(out, sizeof out, "%s/%d.png", dir, i);
        sdc_image img;
        cr_assert_eq(sdc_image_load(out, &img, NULL), SDC_OK, "%s", sdc_last_error());
        cr_expect(img.width == DEMO_SIDE && img.height == DEMO_SIDE, "%s is %dx%d", out,
                  img.width, img.height);
        sdc_image_free(&img);
    }
}

/* A missing demo model: one line naming the folder, status 1, no output file. */
Test(demo, missing_demo_model_is_an_error)
{
    char out[1100], err[1100], line[4096] = "";
    snprintf(out, sizeof out, "%s/missing.png", output_dir());
    snprintf(err, sizeof err, "%s/missing.stderr", output_dir());
    unlink(out);
    setenv("SDC_DEMO_DIR", "/nonexistent-sdc-demo", 1);
    char *argv[] = {(char *)sdc_program(), "-p", "a red circle", "-o", out, NULL};
    int rc = run(argv, err);
    unsetenv("SDC_DEMO_DIR");
    cr_expect_eq(rc, 1);
    FILE *f = fopen(err, "r");
    cr_assert(f);
    cr_expect(fgets(line, sizeof line, f) && strstr(line, "/nonexistent-sdc-demo"), "stderr: %s",
              line);
    fclose(f);
    cr_expect_neq(access(out, F_OK), 0, "%s was written", out);
}
