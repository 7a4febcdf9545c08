#include "cmd/render.h"

#include <stdlib.h>

#include "cmd/inputs.h"
#include "cmd/progress.h"
#include "ops/error.h"

/* A pixel buffer that grows to the largest image of the list. */
typedef struct pixels {
    uint8_t *data;
    size_t size;
} pixels;

static sdc_status ensure(pixels *px, size_t bytes)
{
    if (bytes <= px->size)
        return SDC_OK;
    uint8_t *grown = realloc(px->data, bytes);
    if (!grown)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for a %zu-byte image", bytes);
    px->data = grown;
    px->size = bytes;
    return SDC_OK;
}

/* Generates one image, then writes it with its metadata; times[0] generation, times[1]
 * writing. */
static sdc_status render(const sdc_render_list *l, const sdc_render_item *it, pixels *px,
                         double times[2])
{
    int width, height;
    sdc_cli_output_size(&it->params, &width, &height);
    sdc_status s = ensure(px, (size_t)width * height * 3);
    double t0 = sdc_now_seconds();
    if (s == SDC_OK)
        s = sdc_generate(it->model, &it->params, px->data);
    if (l->generated)
        l->generated(l->ctx);
    double t1 = sdc_now_seconds();
    times[0] = t1 - t0;
    char *text = NULL;
    if (s == SDC_OK)
        s = sdc_generate_parameters_text(it->model, &it->params, &text);
    if (s == SDC_OK)
        s = sdc_image_save(it->path, px->data, width, height, text, it->overwrite);
    free(text);
    times[1] = sdc_now_seconds() - t1;
    return s;
}

sdc_status sdc_render_list_run(const sdc_render_list *l, int *reached)
{
    pixels px = {NULL, 0};
    sdc_status s = SDC_OK, first = SDC_OK;
    int i = 0;
    while (s == SDC_OK && i < l->count) {
        if (sdc_signal_received()) {
            s = sdc_fail(SDC_ERR_INTERRUPTED, "interrupted");
            break;
        }
        sdc_render_item item = {.params = *l->params};
        double times[2] = {0, 0};
        s = l->prepare(l->ctx, i, &item);
        item.params = *l->params;
        item.params.seed = l->params->seed + (uint64_t)i;
        item.params.refiner = item.refiner;
        item.params.hr_upscale_model = item.hr_model;
        if (s == SDC_OK && item.skip) {
            i++;
            continue;
        }
        if (s == SDC_OK)
            s = render(l, &item, &px, times);
        l->finish(l->ctx, i++, &item, s, times[0], times[1]);
        if (s != SDC_OK && s != SDC_ERR_INTERRUPTED && l->keep_going &&
            l->keep_going(l->ctx, s)) {
            first = first == SDC_OK ? s : first;
            s = SDC_OK;
        }
    }
    free(px.data);
    if (reached)
        *reached = i;
    return s != SDC_OK ? s : first;
}
