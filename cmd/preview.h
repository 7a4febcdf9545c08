/* Live previews of the sdc program: the library's preview callback writing --preview-path
 * atomically (a temporary beside it, then rename), so a viewer never reads half a file. */
#ifndef SDC_CMD_PREVIEW_H
#define SDC_CMD_PREVIEW_H

#include <stdint.h>

#include "sdc.h"

typedef struct sdc_cli_preview {
    const char *path; /* where every preview goes (replaced each time), or NULL: none */
    int written;      /* previews written so far */
    int failed;       /* a write failed: warned once, the run goes on */
} sdc_cli_preview;

/* Checks before any model is loaded that path can be written (name, folder): SDC_OK when
 * path is NULL. */
sdc_status sdc_cli_preview_check(const char *path);
/* Writes one preview to pv->path; a failure is a warning, not the end of the render. */
void sdc_cli_preview_write(sdc_cli_preview *pv, const uint8_t *rgb, int width, int height);

#endif
