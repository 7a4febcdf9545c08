#include "demo_scene.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The colours of tools/train-demo/scenes.py. */
static const struct {
    const char *name;
    int rgb[3];
} palette[] = {
    {"red", {220, 40, 40}},     {"green", {40, 170, 60}}, {"blue", {40, 80, 220}},
    {"yellow", {240, 210, 40}}, {"white", {245, 245, 245}}, {"black", {20, 20, 20}},
    {"purple", {150, 60, 200}},
};
enum { PALETTE = sizeof palette / sizeof palette[0] };

enum {
    N = DEMO_SIDE,
    BORDER = 2,        /* frame of pixels that tells the background */
    MIN_CONTRAST = 40, /* weaker foreground is no object */
    MIN_AREA = 12,     /* smaller blobs are noise (a small star covers about 130 pixels) */
    LARGE_EXTENT = 24, /* small objects span 19..21 pixels, large ones 27..29 */
    CENTRE_BOX = 8,    /* a centroid this close to the middle is "center" */
};

/* Shape thresholds, each halfway between the ideal shapes it separates (the renderer's
 * pictures: tests/demo/renders.png), so that softened edges still land on the right side.
 * Solidity (area / convex hull area): five-point star 0.54, the others 0.91 and more. */
#define STAR_SOLIDITY 0.73
/* Area above the bounding box's middle / area below it: triangle (apex up) 0.36, star 0.84,
 * circle and square 1. */
#define TRIANGLE_BALANCE 0.60
/* Share of the four corner cells (a quarter of the box's side) that is covered: circle 0.32,
 * square 1. */
#define SQUARE_CORNERS 0.66

/* ---- reading the tables ------------------------------------------------------------------ */

/* src into dst, cut to cap - 1 bytes. */
static void copy_field(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; i + 1 < cap && src[i]; i++)
        dst[i] = src[i];
    dst[i] = '\0';
}

/* set seed colour shape size position background count prompt, tab-separated. */
static int parse_row(char *line, demo_scene *r)
{
    char *field[9];
    int n = 0;
    for (char *p = line; n < 9; n++) {
        field[n] = p;
        char *tab = strchr(p, '\t');
        if (!tab) {
            n++;
            break;
        }
        *tab = '\0';
        p = tab + 1;
    }
    if (n != 9)
        return 0;
    field[8][strcspn(field[8], "\r\n")] = '\0';
    memset(r, 0, sizeof *r);
    copy_field(r->set, sizeof r->set, field[0]);
    r->seed = atoll(field[1]);
    copy_field(r->colour, sizeof r->colour, field[2]);
    copy_field(r->shape, sizeof r->shape, field[3]);
    copy_field(r->size, sizeof r->size, field[4]);
    copy_field(r->position, sizeof r->position, field[5]);
    copy_field(r->background, sizeof r->background, field[6]);
    r->count = atoi(field[7]);
    copy_field(r->prompt, sizeof r->prompt, field[8]);
    return 1;
}

int demo_scene_read(const char *path, demo_scene **rows)
{
    *rows = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[512];
    int n = 0, cap = 0;
    demo_scene *out = NULL;
    for (int header = 1; fgets(line, sizeof line, f); header = 0) {
        if (header)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            demo_scene *grown = realloc(out, (size_t)cap * sizeof *out);
            if (!grown)
                break;
            out = grown;
        }
        n += parse_row(line, &out[n]);
    }
    fclose(f);
    *rows = out;
    return n;
}

/* ---- analysis ---------------------------------------------------------------------------- */

static int distance2(const int *a, const int *b)
{
    int d = 0;
    for (int c = 0; c < 3; c++)
        d += (a[c] - b[c]) * (a[c] - b[c]);
    return d;
}

static const char *nearest_colour(const int *rgb)
{
    int best = 0;
    for (int i = 1; i < PALETTE; i++)
        if (distance2(rgb, palette[i].rgb) < distance2(rgb, palette[best].rgb))
            best = i;
    return palette[best].name;
}

static int compare_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Per-channel median of the n pixels listed in idx. */
static void median_colour(const uint8_t *rgb, int stride, const int *idx, int n, int *out)
{
    int v[N * N];
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < n; i++)
            v[i] = rgb[((idx[i] / N) * stride + idx[i] % N) * 3 + c];
        qsort(v, (size_t)n, sizeof *v, compare_int);
        out[c] = v[n / 2];
    }
}

static void pixel(const uint8_t *rgb, int stride, int i, int *out)
{
    const uint8_t *p = rgb + ((i / N) * stride + i % N) * 3;
    for (int c = 0; c < 3; c++)
        out[c] = p[c];
}

typedef struct blob {
    int id, area, x0, y0, x1, y1;
    double cx, cy;
} blob;

/* Labels the 4-connected component of foreground pixels (label -1) at `seed` with b->id and
 * measures it. */
static void flood(int *label, int seed, int *stack, blob *b)
{
    int top = 0;
    *b = (blob){b->id, 0, N, N, -1, -1, 0, 0};
    stack[top++] = seed;
    label[seed] = b->id;
    while (top) {
        int i = stack[--top], x = i % N, y = i / N;
        b->area++;
        b->cx += x + 0.5;
        b->cy += y + 0.5;
        b->x0 = x < b->x0 ? x : b->x0;
        b->x1 = x > b->x1 ? x : b->x1;
        b->y0 = y < b->y0 ? y : b->y0;
        b->y1 = y > b->y1 ? y : b->y1;
        const int nb[4] = {x > 0 ? i - 1 : -1, x < N - 1 ? i + 1 : -1, y > 0 ? i - N : -1,
                           y < N - 1 ? i + N : -1};
        for (int k = 0; k < 4; k++)
            if (nb[k] >= 0 && label[nb[k]] == -1) {
                label[nb[k]] = b->id;
                stack[top++] = nb[k];
            }
    }
    b->cx /= b->area;
    b->cy /= b->area;
}

typedef struct point {
    double x, y;
} point;

static double cross(point o, point a, point b)
{
    return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

static int compare_points(const void *a, const void *b)
{
    const point *p = a, *q = b;
    return p->x != q->x ? (p->x < q->x ? -1 : 1) : (p->y < q->y ? -1 : p->y > q->y);
}

/* Area of the convex hull of the n points (sorted in place; hull needs room for n + 1). */
static double hull_area(point *pts, int n, point *hull)
{
    qsort(pts, (size_t)n, sizeof *pts, compare_points);
    int k = 0;
    for (int i = 0; i < n; i++) { /* lower hull */
        while (k >= 2 && cross(hull[k - 2], hull[k - 1], pts[i]) <= 0)
            k--;
        hull[k++] = pts[i];
    }
    for (int i = n - 2, lower = k + 1; i >= 0; i--) { /* upper hull */
        while (k >= lower && cross(hull[k - 2], hull[k - 1], pts[i]) <= 0)
            k--;
        hull[k++] = pts[i];
    }
    double area = 0;
    for (int i = 0; i + 1 < k; i++)
        area += hull[i].x * hull[i + 1].y - hull[i + 1].x * hull[i].y;
    return fabs(area) / 2;
}

/* Area of the blob over the area of the convex hull of its pixels' corners. */
static double solidity(const blob *b, const int *label)
{
    static point pts[4 * N * N], hull[4 * N * N + 1];
    int n = 0;
    for (int y = b->y0; y <= b->y1; y++)
        for (int x = b->x0; x <= b->x1; x++)
            if (label[y * N + x] == b->id) /* corners of pixels on a row's ends suffice */
                if (x == b->x0 || x == b->x1 || label[y * N + x - 1] != b->id ||
                    label[y * N + x + 1] != b->id)
                    for (int c = 0; c < 4; c++)
                        pts[n++] = (point){x + (c & 1), y + (c >> 1)};
    double area = hull_area(pts, n, hull);
    return area > 0 ? b->area / area : 1.0;
}

/* Covered share of the box [x0, x0 + w) x [y0, y0 + h). */
static double coverage(const blob *b, const int *label, int x0, int y0, int w, int h)
{
    int n = 0;
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++)
            n += label[y * N + x] == b->id;
    return (double)n / (w * h);
}

/* A star is the only concave shape; a triangle (apex up) has most of its area below the
 * middle; a square, unlike a circle, fills its bounding box's corners. */
static const char *shape_of(const blob *b, const int *label)
{
    if (solidity(b, label) < STAR_SOLIDITY)
        return "star";
    int w = b->x1 - b->x0 + 1, h = b->y1 - b->y0 + 1, upper = 0, lower = 0;
    for (int y = b->y0; y <= b->y1; y++)
        for (int x = b->x0; x <= b->x1; x++)
            if (label[y * N + x] == b->id) {
                double dy = 2 * (y - b->y0) + 1 - h; /* pixel centre against the middle, x2 */
                upper += dy < 0;
                lower += dy > 0;
            }
    if (upper < TRIANGLE_BALANCE * lower)
        return "triangle";
    int c = (int)lround((w < h ? w : h) / 4.0);
    c = c < 1 ? 1 : c;
    double corners = (coverage(b, label, b->x0, b->y0, c, c) +
                      coverage(b, label, b->x1 - c + 1, b->y0, c, c) +
                      coverage(b, label, b->x0, b->y1 - c + 1, c, c) +
                      coverage(b, label, b->x1 - c + 1, b->y1 - c + 1, c, c)) / 4;
    return corners >= SQUARE_CORNERS ? "square" : "circle";
}

static const char *position_of(const blob *b)
{
    double h = N / 2.0;
    if (fabs(b->cx - h) < CENTRE_BOX && fabs(b->cy - h) < CENTRE_BOX)
        return "center";
    return b->cy < h ? (b->cx < h ? "top left" : "top right")
                     : (b->cx < h ? "bottom left" : "bottom right");
}

/* Background: median of the border frame. Foreground colour: median of the pixels furthest
 * from it. Mask: pixels nearer the foreground colour than the background. */
static int foreground(const uint8_t *rgb, int stride, demo_scene *out, uint8_t *mask)
{
    int idx[N * N], n = 0, bg[3], fg[3], p[3], far = 0, d2[N * N];
    for (int i = 0; i < N * N; i++) {
        int x = i % N, y = i / N;
        if (x < BORDER || y < BORDER || x >= N - BORDER || y >= N - BORDER)
            idx[n++] = i;
    }
    median_colour(rgb, stride, idx, n, bg);
    copy_field(out->background, sizeof out->background, nearest_colour(bg));
    for (int i = 0; i < N * N; i++) {
        pixel(rgb, stride, i, p);
        d2[i] = distance2(p, bg);
        far = d2[i] > far ? d2[i] : far;
    }
    if (far < MIN_CONTRAST * MIN_CONTRAST)
        return 0;
    n = 0;
    for (int i = 0; i < N * N; i++)
        if (d2[i] * 16 >= far * 9) /* within 3/4 of the largest distance */
            idx[n++] = i;
    median_colour(rgb, stride, idx, n, fg);
    copy_field(out->colour, sizeof out->colour, nearest_colour(fg));
    for (int i = 0; i < N * N; i++) {
        pixel(rgb, stride, i, p);
        mask[i] = distance2(p, fg) < distance2(p, bg);
    }
    return 1;
}

void demo_scene_analyse(const uint8_t *rgb, int stride, demo_scene *out)
{
    memset(out, 0, sizeof *out);
    copy_field(out->colour, sizeof out->colour, "-");
    copy_field(out->shape, sizeof out->shape, "-");
    copy_field(out->size, sizeof out->size, "-");
    copy_field(out->position, sizeof out->position, "-");
    uint8_t mask[N * N];
    if (!foreground(rgb, stride, out, mask))
        return;
    int label[N * N], stack[N * N], votes[4] = {0}, largest = -1;
    static const char *const shapes[4] = {"circle", "square", "triangle", "star"};
    blob blobs[N * N / MIN_AREA + 1], b = {0};
    for (int i = 0; i < N * N; i++)
        label[i] = mask[i] ? -1 : 0;
    for (int i = 0; i < N * N; i++) {
        if (label[i] != -1)
            continue;
        b.id++;
        flood(label, i, stack, &b);
        if (b.area < MIN_AREA)
            continue;
        blobs[out->count] = b;
        for (int k = 0; k < 4; k++)
            votes[k] += strcmp(shape_of(&b, label), shapes[k]) == 0;
        if (largest < 0 || b.area > blobs[largest].area)
            largest = out->count;
        out->count++;
    }
    if (largest < 0)
        return;
    const blob *big = &blobs[largest];
    int best = 0, tie = 0; /* majority shape; a tie goes to the largest object's */
    for (int k = 1; k < 4; k++)
        best = votes[k] > votes[best] ? k : best;
    for (int k = 0; k < 4; k++)
        tie += votes[k] == votes[best];
    copy_field(out->shape, sizeof out->shape, tie > 1 ? shape_of(big, label) : shapes[best]);
    int w = big->x1 - big->x0 + 1, h = big->y1 - big->y0 + 1;
    copy_field(out->size, sizeof out->size, (w > h ? w : h) > LARGE_EXTENT ? "large" : "small");
    copy_field(out->position, sizeof out->position, position_of(big));
}

/* ---- scoring ----------------------------------------------------------------------------- */

static const char *const attribute_names[DEMO_ATTRIBUTES] = {
    "colour", "shape", "size", "position", "background", "count"};

static void check(demo_score *s, int attr, int ok, int *all)
{
    s->total[attr]++;
    s->right[attr] += ok;
    *all &= ok;
}

void demo_score_add(demo_score *s, const demo_scene *want, const demo_scene *seen)
{
    int all = 1;
    check(s, DEMO_COLOUR, strcmp(want->colour, seen->colour) == 0, &all);
    check(s, DEMO_SHAPE, strcmp(want->shape, seen->shape) == 0, &all);
    check(s, DEMO_BACKGROUND, strcmp(want->background, seen->background) == 0, &all);
    check(s, DEMO_COUNT, want->count == seen->count, &all);
    if (want->count == 1) {
        check(s, DEMO_SIZE, strcmp(want->size, seen->size) == 0, &all);
        check(s, DEMO_POSITION, strcmp(want->position, seen->position) == 0, &all);
    }
    s->pictures++;
    s->all_right += all;
}

double demo_score_overall(const demo_score *s)
{
    int right = 0, total = 0;
    for (int a = 0; a < DEMO_ATTRIBUTES; a++) {
        right += s->right[a];
        total += s->total[a];
    }
    return total ? (double)right / total : 0.0;
}

void demo_score_print(const demo_score *s, const char *title)
{
    fprintf(stderr, "%s\n", title);
    for (int a = 0; a < DEMO_ATTRIBUTES; a++)
        fprintf(stderr, "  %-11s %3d/%3d  %5.1f%%\n", attribute_names[a], s->right[a],
                s->total[a], s->total[a] ? 100.0 * s->right[a] / s->total[a] : 0.0);
    fprintf(stderr, "  %-11s %5.1f%%   pictures with every attribute right: %d/%d\n",
                "overall", 100.0 * demo_score_overall(s), s->all_right, s->pictures);
}
