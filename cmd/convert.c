/* `sdc convert IN OUT.safetensors [--type f16|f32|bf16] [--overwrite]`: rewrites a single
 * file, a .ckpt or a diffusers folder as one LDM-named .safetensors (weights/ckpt_convert.h).
 * Exit status: 0 done, 1 failed (no output left behind), 2 usage, 130/143 interrupted. */
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/progress.h"
#include "ops/dtype.h"
#include "weights/ckpt_convert.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sdc convert IN OUT.safetensors [--type f16|f32|bf16] [--overwrite]\n"
                 "  IN: a .safetensors or .ckpt/.pt file, or a diffusers folder\n"
                 "  --type       store float tensors as this type (default: keep each one's)\n"
                 "  --overwrite  replace OUT if it exists\n");
}

static int parse_type(const char *name)
{
    static const struct {
        const char *name;
        sdc_dtype dtype;
    } types[] = {{"f32", SDC_DTYPE_F32}, {"f16", SDC_DTYPE_F16}, {"bf16", SDC_DTYPE_BF16}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(name, types[i].name) == 0)
            return (int)types[i].dtype;
    return -2;
}

static int stop_on_signal(const char *stage, int step, int steps, void *user_data)
{
    (void)stage, (void)step, (void)steps, (void)user_data;
    return sdc_signal_received() != 0;
}

/* Fills in/out/params from argv; 0 on success, 1 after --help, 2 on a usage error. */
static int parse(int argc, char **argv, const char **in, const char **out,
                 sdc_convert_params *params)
{
    const char *paths[2];
    int npaths = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(argv[i], "--overwrite") == 0) {
            params->overwrite = 1;
        } else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            params->dtype = parse_type(argv[++i]);
            if (params->dtype == -2) {
                fprintf(stderr, "sdc convert: --type must be f16, f32 or bf16, not '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-' || npaths == 2) {
            usage(stderr);
            return 2;
        } else {
            paths[npaths++] = argv[i];
        }
    }
    if (npaths != 2) {
        usage(stderr);
        return 2;
    }
    *in = paths[0];
    *out = paths[1];
    return 0;
}

int sdc_cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    sdc_convert_params params = sdc_convert_default_params();
    int r = parse(argc, argv, &in, &out, &params);
    if (r)
        return r == 1 ? 0 : 2;
    sdc_signals_install();
    params.progress = stop_on_signal;
    size_t count = 0;
    sdc_status s = sdc_checkpoint_convert(in, out, &params, &count);
    if (s != SDC_OK) {
        fprintf(stderr, "sdc: %s\n", sdc_last_error());
        if (s == SDC_ERR_INTERRUPTED)
            return sdc_signal_received() == 15 ? 143 : 130;
        return 1;
    }
    fprintf(stderr, "sdc: wrote %zu tensors to %s\n", count, out);
    return 0;
}
