/* The one render loop of the sdc program: `sdc -b N` and every job of `sdc batch` render
 * their list of images through it. Image i gets seed params.seed + i; each is generated,
 * given its AUTOMATIC1111 metadata and written atomically through the public API (sdc.h);
 * a signal stops the list before the next image. What differs between the two commands
 * (output names, resuming, loading models, progress and reports) lives in their hooks. */
#ifndef SDC_CMD_RENDER_H
#define SDC_CMD_RENDER_H

#include "sdc.h"

/* One image as the prepare hook sets it up. */
typedef struct sdc_render_item {
    sdc_model *model;
    sdc_model *refiner;         /* the SDXL refiner, or NULL */
    sdc_model *hr_model;        /* the hires fix's x4 upscaler, or NULL */
    sdc_generate_params params; /* *list.params after prepare, with the image's seed */
    const char *path;           /* where it goes (.png gets the metadata) */
    int overwrite;
    int skip;                   /* set by prepare: nothing to render (e.g. --resume) */
} sdc_render_item;

typedef struct sdc_render_list {
    int count;
    const sdc_generate_params *params; /* shared by every image but the seed; prepare may
                                          change them (the init image loaded on first use) */
    /* Before image i: sets item's model, path and overwrite, or skip; a failure ends the
     * list after `finish` has seen it. */
    sdc_status (*prepare)(void *ctx, int i, sdc_render_item *item);
    /* Optional: right after sdc_generate returned, before the file is written. */
    void (*generated)(void *ctx);
    /* After image i: rendered and written (s == SDC_OK) or failed; not called for skipped
     * images or when a signal stops the list before image i. */
    void (*finish)(void *ctx, int i, const sdc_render_item *item, sdc_status s,
                   double generate_seconds, double write_seconds);
    void *ctx;
    /* Optional: whether the list goes on after image i failed with status s (a batch
     * attempts every image; NULL stops at the first failure). */
    int (*keep_going)(void *ctx, sdc_status s);
} sdc_render_list;

/* Renders the list; stops at a signal (SDC_ERR_INTERRUPTED) or at the first failure that
 * keep_going does not pass over. Returns the status of the first failure, or SDC_OK. *reached
 * (may be NULL) receives the number of images started. */
sdc_status sdc_render_list_run(const sdc_render_list *list, int *reached);

#endif
