/* The contact sheet of `sdc batch --grid FILE`: every image of the run as a thumbnail, each
 * captioned with the parameters that vary across the run ("seed: 43", "cfg-scale: 9").
 * When one parameter changes in regular runs (cfg 5 for four seeds, then cfg 7 ...), a run
 * becomes a row, like an X/Y plot; otherwise the sheet is about square. */
#ifndef SDC_CMD_BATCH_GRID_H
#define SDC_CMD_BATCH_GRID_H

#include <jansson.h>

#include "image/image.h"

typedef struct sdc_batch_grid_item {
    const char *path; /* the image file */
    json_t *params;   /* its parameters (sdc_batch_params_json), borrowed */
} sdc_batch_grid_item;

/* Keys whose values are not the same in every item, in order of first appearance (a new
 * array of strings, NULL when out of memory). */
json_t *sdc_batch_grid_varying(const sdc_batch_grid_item *items, int count);
/* Columns of the sheet (see above). */
int sdc_batch_grid_columns(const sdc_batch_grid_item *items, int count, const json_t *varying);
/* Renders the sheet into *sheet (RGB, owned by the caller). An image that cannot be read
 * gets an empty cell with its error as caption. */
sdc_status sdc_batch_grid_render(const sdc_batch_grid_item *items, int count, sdc_image *sheet);
/* Renders and writes the sheet atomically; an existing file is replaced only when
 * `overwrite` is set. */
sdc_status sdc_batch_grid_write(const char *path, const sdc_batch_grid_item *items, int count,
                                int overwrite);

#endif
