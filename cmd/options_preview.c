/* The --preview options' meaning (stable-diffusion.cpp's, ../shared/CLI-CONTRACT.md). */
#include <string.h>

#include "cmd/options.h"
#include "ops/error.h"

int sdc_cli_preview_parse(const char *arg, sdc_cli_options *o)
{
    static const char *const names[] = {"none", "proj", "tae", "vae"};
    for (int i = 0; i < 4; i++)
        if (strcmp(arg, names[i]) == 0) {
            o->gen.preview = (sdc_preview_mode)i;
            o->preview_given = 1;
            return 0;
        }
    sdc_fail(SDC_ERR_ARG, "--preview must be none, proj, tae or vae, not '%s'", arg);
    return 2;
}

void sdc_cli_preview_resolve(sdc_cli_options *o)
{
    if (o->preview_path && !o->preview_given)
        o->gen.preview = SDC_PREVIEW_PROJ;
    if (o->gen.preview != SDC_PREVIEW_NONE && !o->preview_path)
        o->preview_path = "preview.png";
}
