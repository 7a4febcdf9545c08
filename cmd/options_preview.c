/* The --preview options' meaning (stable-diffusion.cpp's, ../shared/CLI-CONTRACT.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/options.h"
#include "ops/error.h"

static int parse_mode(const char *arg, sdc_cli_options *o)
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

static int parse_interval(const char *arg, sdc_cli_options *o)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > 1000) {
        sdc_fail(SDC_ERR_ARG, "--preview-interval must be 1..1000, not '%s'", arg);
        return 2;
    }
    o->gen.preview_interval = (int)v;
    return 0;
}

int sdc_cli_preview_option(const char *name, const char *arg, sdc_cli_options *o)
{
    if (strcmp(name, "preview") == 0)
        return parse_mode(arg, o);
    if (strcmp(name, "preview-interval") == 0)
        return parse_interval(arg, o);
    if (!*arg) {
        sdc_fail(SDC_ERR_ARG, "--preview-path needs a file name");
        return 2;
    }
    o->preview_path = arg;
    return 0;
}

void sdc_cli_preview_resolve(sdc_cli_options *o)
{
    if (o->preview_path && !o->preview_given)
        o->gen.preview = o->taesd ? SDC_PREVIEW_TAE : SDC_PREVIEW_PROJ;
    if (o->gen.preview != SDC_PREVIEW_NONE && !o->preview_path)
        o->preview_path = "preview.png";
}
