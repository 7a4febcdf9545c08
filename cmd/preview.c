#include "cmd/preview.h"

#include <stdio.h>

#include "image/image.h"

sdc_status sdc_cli_preview_check(const char *path)
{
    return path ? sdc_image_check_output(path, 1, 0) : SDC_OK;
}

void sdc_cli_preview_write(sdc_cli_preview *pv, const uint8_t *rgb, int width, int height)
{
    if (!pv->path)
        return;
    /* no metadata: a preview is not the picture the parameters would reproduce */
    if (sdc_image_save(pv->path, rgb, width, height, NULL, 1) == SDC_OK) {
        pv->written++;
        return;
    }
    if (!pv->failed)
        fprintf(stderr, "\nsdc: warning: preview not written: %s\n", sdc_last_error());
    pv->failed = 1;
}
