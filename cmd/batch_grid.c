#include "cmd/batch_grid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/batch_font.h"
#include "ops/error.h"

enum {
    MARGIN = 8,             /* pixels around and between cells */
    MIN_CELL_CHARS = 18,    /* a cell is at least this many characters wide */
    MAX_CAPTION_LINES = 6,
    MAX_COLUMNS = 64,
};
/* The sheet stays below this many pixels (192 MiB of RGB): thumbnails shrink as needed. */
#define MAX_SHEET_PIXELS 64e6

static const uint8_t ink[3] = {24, 24, 24};

json_t *sdc_batch_grid_varying(const sdc_batch_grid_item *items, int count)
{
    json_t *keys = json_array();
    for (int i = 0; keys && i < count; i++) {
        const char *key;
        json_t *v;
        json_object_foreach(items[i].params, key, v) {
            int known = 0;
            for (size_t k = 0; k < json_array_size(keys) && !known; k++)
                known = strcmp(json_string_value(json_array_get(keys, k)), key) == 0;
            int varies = 0;
            for (int j = 0; j < count && !known && !varies; j++)
                varies = !json_equal(v, json_object_get(items[j].params, key));
            if (varies)
                json_array_append_new(keys, json_string(key));
        }
    }
    return keys;
}

/* Whether `key` differs between items i-1 and i. */
static int changes_at(const sdc_batch_grid_item *items, int i, const char *key)
{
    return !json_equal(json_object_get(items[i - 1].params, key),
                       json_object_get(items[i].params, key));
}

int sdc_batch_grid_columns(const sdc_batch_grid_item *items, int count, const json_t *varying)
{
    int square = (int)ceil(sqrt((double)count));
    /* The row key changes least often; its runs must all have one length. */
    const char *row_key = NULL;
    int fewest = count;
    for (size_t k = 0; k < json_array_size(varying); k++) {
        const char *key = json_string_value(json_array_get(varying, k));
        int changes = 0;
        for (int i = 1; i < count; i++)
            changes += changes_at(items, i, key);
        if (changes < fewest) {
            fewest = changes;
            row_key = key;
        }
    }
    if (!row_key)
        return square > 0 ? square : 1;
    int run = 1;
    while (run < count && !changes_at(items, run, row_key))
        run++;
    if (run < 2 || run > MAX_COLUMNS || run == count || count % run)
        return square;
    for (int i = 1; i < count; i++)
        if (changes_at(items, i, row_key) != (i % run == 0))
            return square;
    return run;
}

/* Mean of each f x f block: a thumbnail no side of which exceeds `side`. */
static sdc_status shrink(sdc_image *img, int side)
{
    int longest = img->width > img->height ? img->width : img->height;
    int f = (longest + side - 1) / side;
    if (f <= 1)
        return SDC_OK;
    int w = img->width / f > 0 ? img->width / f : 1, h = img->height / f > 0 ? img->height / f : 1;
    uint8_t *px = malloc((size_t)w * h * 3);
    if (!px)
        return sdc_fail(SDC_ERR_NOMEM, "grid: out of memory");
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                unsigned sum = 0, n = 0;
                for (int dy = 0; dy < f && y * f + dy < img->height; dy++)
                    for (int dx = 0; dx < f && x * f + dx < img->width; dx++, n++)
                        sum += img->pixels[((size_t)(y * f + dy) * img->width + x * f + dx) * 3 + c];
                px[((size_t)y * w + x) * 3 + c] = (uint8_t)((sum + n / 2) / n);
            }
    free(img->pixels);
    img->pixels = px;
    img->width = w;
    img->height = h;
    return SDC_OK;
}

/* "cfg-scale: 7.5"; text values without quotes. */
static void caption_line(const json_t *params, const char *key, char *out, size_t size)
{
    const json_t *v = json_object_get(params, key);
    if (!v) {
        snprintf(out, size, "%s: -", key);
    } else if (json_is_string(v)) {
        snprintf(out, size, "%s: %s", key, json_string_value(v));
    } else {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(7));
        snprintf(out, size, "%s: %s", key, text ? text : "?");
        free(text);
    }
}

/* Draws one line, cut to `chars` characters with "..." when longer. */
static void draw_line(sdc_image *sheet, int x, int y, int scale, const char *text, int chars)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    if (sdc_font_length(buf) > chars && chars > 3) {
        /* cut at a character boundary: count code points as the font does */
        int n = 0;
        char *p = buf;
        while (*p && n < chars - 3) {
            p++;
            while ((*p & 0xc0) == 0x80)
                p++;
            n++;
        }
        snprintf(p, sizeof buf - (size_t)(p - buf), "...");
    }
    sdc_font_draw(sheet, x, y, scale, buf, ink);
}

typedef struct layout {
    int cols, rows, cell_w, cell_h, thumb_h, scale, lines;
} layout;

static void paste(sdc_image *sheet, const sdc_image *img, int x0, int y0)
{
    for (int y = 0; y < img->height; y++)
        memcpy(sheet->pixels + ((size_t)(y0 + y) * sheet->width + x0) * 3,
               img->pixels + (size_t)y * img->width * 3, (size_t)img->width * 3);
}

static void draw_cell(sdc_image *sheet, const layout *L, int i, const sdc_image *thumb,
                      const char *error, const json_t *params, const json_t *varying)
{
    int x0 = MARGIN + (i % L->cols) * (L->cell_w + MARGIN);
    int y0 = MARGIN + (i / L->cols) * (L->cell_h + MARGIN);
    if (thumb->pixels)
        paste(sheet, thumb, x0 + (L->cell_w - thumb->width) / 2, y0);
    int chars = L->cell_w / (SDC_FONT_ADVANCE * L->scale);
    int y = y0 + L->thumb_h + 4;
    char text[512];
    if (error) {
        draw_line(sheet, x0, y, L->scale, error, chars);
        return;
    }
    for (int k = 0; k < L->lines; k++, y += SDC_FONT_LINE * L->scale) {
        caption_line(params, json_string_value(json_array_get(varying, (size_t)k)), text,
                     sizeof text);
        draw_line(sheet, x0, y, L->scale, text, chars);
    }
}

/* Largest thumbnail side that keeps the sheet under MAX_SHEET_PIXELS. */
static int thumb_side(int count)
{
    int side = 256;
    while (side > 32 && (double)count * (side + MARGIN) * (side + 80) > MAX_SHEET_PIXELS)
        side /= 2;
    return side;
}

static sdc_status load_thumbs(const sdc_batch_grid_item *items, int count, int side,
                              sdc_image *thumbs, char **errors)
{
    for (int i = 0; i < count; i++) {
        sdc_status s = sdc_image_load(items[i].path, &thumbs[i], NULL);
        if (s == SDC_OK)
            s = shrink(&thumbs[i], side);
        if (s == SDC_ERR_NOMEM)
            return s;
        if (s != SDC_OK && !(errors[i] = strdup(sdc_last_error())))
            return sdc_fail(SDC_ERR_NOMEM, "grid: out of memory");
    }
    return SDC_OK;
}

static layout plan(const sdc_batch_grid_item *items, int count, const sdc_image *thumbs,
                   const json_t *varying)
{
    layout L = {0};
    L.cols = sdc_batch_grid_columns(items, count, varying);
    L.rows = (count + L.cols - 1) / L.cols;
    int widest = 0;
    for (int i = 0; i < count; i++) {
        widest = thumbs[i].width > widest ? thumbs[i].width : widest;
        L.thumb_h = thumbs[i].height > L.thumb_h ? thumbs[i].height : L.thumb_h;
    }
    L.scale = widest >= 192 ? 2 : 1;
    L.cell_w = widest > MIN_CELL_CHARS * SDC_FONT_ADVANCE * L.scale
                   ? widest : MIN_CELL_CHARS * SDC_FONT_ADVANCE * L.scale;
    L.lines = (int)json_array_size(varying);
    if (L.lines > MAX_CAPTION_LINES)
        L.lines = MAX_CAPTION_LINES;
    int caption = (L.lines > 0 ? L.lines : 1) * SDC_FONT_LINE * L.scale + 4;
    L.cell_h = L.thumb_h + caption;
    return L;
}

static sdc_status draw_sheet(const sdc_batch_grid_item *items, int count,
                             const sdc_image *thumbs, char *const *errors, sdc_image *sheet)
{
    json_t *varying = sdc_batch_grid_varying(items, count);
    if (!varying)
        return sdc_fail(SDC_ERR_NOMEM, "grid: out of memory");
    layout L = plan(items, count, thumbs, varying);
    sheet->width = MARGIN + L.cols * (L.cell_w + MARGIN);
    sheet->height = MARGIN + L.rows * (L.cell_h + MARGIN);
    sheet->channels = 3;
    sheet->pixels = malloc((size_t)sheet->width * sheet->height * 3);
    if (!sheet->pixels) {
        json_decref(varying);
        return sdc_fail(SDC_ERR_NOMEM, "grid: out of memory for %dx%d pixels", sheet->width,
                        sheet->height);
    }
    memset(sheet->pixels, 255, (size_t)sheet->width * sheet->height * 3);
    for (int i = 0; i < count; i++)
        draw_cell(sheet, &L, i, &thumbs[i], errors[i], items[i].params, varying);
    json_decref(varying);
    return SDC_OK;
}

sdc_status sdc_batch_grid_render(const sdc_batch_grid_item *items, int count, sdc_image *sheet)
{
    memset(sheet, 0, sizeof *sheet);
    if (count <= 0)
        return sdc_fail(SDC_ERR_ARG, "grid: no images");
    int side = thumb_side(count);
    if ((double)count * (side + MARGIN) * (side + 80) > MAX_SHEET_PIXELS)
        return sdc_fail(SDC_ERR_ARG, "grid: %d images are too many for one sheet", count);
    sdc_image *thumbs = calloc((size_t)count, sizeof *thumbs);
    char **errors = calloc((size_t)count, sizeof *errors);
    sdc_status s = thumbs && errors ? load_thumbs(items, count, side, thumbs, errors)
                                    : sdc_fail(SDC_ERR_NOMEM, "grid: out of memory");
    if (s == SDC_OK)
        s = draw_sheet(items, count, thumbs, errors, sheet);
    for (int i = 0; thumbs && errors && i < count; i++) {
        sdc_image_free(&thumbs[i]);
        free(errors[i]);
    }
    free(thumbs);
    free(errors);
    return s;
}

sdc_status sdc_batch_grid_write(const char *path, const sdc_batch_grid_item *items, int count,
                                int overwrite)
{
    sdc_image sheet;
    sdc_status s = sdc_batch_grid_render(items, count, &sheet);
    if (s == SDC_OK)
        s = sdc_image_write(path, &sheet, NULL, overwrite);
    sdc_image_free(&sheet);
    return s;
}
