/* The demo model's test scenes (the tables in tests/demo/, written by tools/train-demo/) and
 * a small picture analysis that reads the same attributes back from a 64x64 picture:
 * background and foreground colour, shape class (solidity, balance about the middle, filled
 * corners), size, position (quadrant or centre) and object count. */
#ifndef SDC_TESTS_DEMO_SCENE_H
#define SDC_TESTS_DEMO_SCENE_H

#include <stdint.h>

#define DEMO_SIDE 64 /* pixels per side of a demo picture */

typedef struct demo_scene {
    char set[16]; /* "heldout" or "seen" */
    long long seed;
    char colour[16], shape[16], size[16], position[16], background[16]; /* "-": not said */
    int count;
    char prompt[256];
} demo_scene;

/* The rows of a scene table; returns how many (0 on error), *rows malloc'd. */
int demo_scene_read(const char *path, demo_scene **rows);

/* Attributes of the 64x64 picture at rgb (RGB8, `stride` pixels per row). */
void demo_scene_analyse(const uint8_t *rgb, int stride, demo_scene *out);

enum { DEMO_COLOUR, DEMO_SHAPE, DEMO_SIZE, DEMO_POSITION, DEMO_BACKGROUND, DEMO_COUNT,
       DEMO_ATTRIBUTES };

typedef struct demo_score {
    int right[DEMO_ATTRIBUTES], total[DEMO_ATTRIBUTES];
    int pictures, all_right;
} demo_score;

/* Scores what the analysis saw against what the scene says (size and position only for
 * single objects). */
void demo_score_add(demo_score *s, const demo_scene *want, const demo_scene *seen);
/* Right answers over all checked attributes. */
double demo_score_overall(const demo_score *s);
/* One table row per attribute on stderr, under `title`. */
void demo_score_print(const demo_score *s, const char *title);

#endif
