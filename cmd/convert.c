/* `sdc convert IN OUT [--type f16|f32|bf16|q8_0|q4_0|...|q6_K] [--overwrite]`: rewrites a single
 * file, a .ckpt or a diffusers folder as one LDM-named .safetensors, or as a
 * stable-diffusion.cpp GGUF file for a quantised type (sdc_convert, sdc.h).
 * Exit status: 0 done, 1 failed (no output left behind), 2 usage, 130/143 interrupted. */
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/progress.h"
#include "sdc.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sdc convert IN OUT.safetensors [--type f16|f32|bf16] [--overwrite]\n"
                 "       sdc convert IN OUT.gguf --type TYPE [--overwrite]\n"
                 "  IN: a .safetensors or .ckpt/.pt file, or a diffusers folder (its\n"
                 "      tensors written under the LDM names a single file has)\n"
                 "  --type       store float tensors as this type (default: keep each one's);\n"
                 "               q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K:\n"
                 "               a GGUF file as stable-diffusion.cpp converts it\n"
                 "  --overwrite  replace OUT if it exists\n");
}

static int stop_on_signal(const char *stage, int step, int steps, void *user_data)
{
    (void)stage, (void)step, (void)steps, (void)user_data;
    return sdc_signal_received() != 0;
}

/* What the command line asks for. */
typedef struct convert_args {
    const char *in, *out;
    const char *dtype; /* NULL: keep each tensor's */
    int overwrite;
} convert_args;

/* Fills a from argv; 0 on success, 1 after --help, 2 on a usage error. */
static int parse(int argc, char **argv, convert_args *a)
{
    const char *paths[2];
    int npaths = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(argv[i], "--overwrite") == 0) {
            a->overwrite = 1;
        } else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            a->dtype = argv[++i]; /* checked by sdc_convert before it opens anything */
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
    a->in = paths[0];
    a->out = paths[1];
    return 0;
}

int sdc_cmd_convert(int argc, char **argv)
{
    convert_args a = {NULL, NULL, NULL, 0};
    int r = parse(argc, argv, &a);
    if (r)
        return r == 1 ? 0 : 2;
    sdc_signals_install();
    size_t count = 0;
    sdc_status s = sdc_convert(a.in, a.out, a.dtype, a.overwrite, stop_on_signal, NULL, &count);
    if (s == SDC_ERR_ARG) { /* only --type is refused as an argument */
        fprintf(stderr, "sdc convert: --type: %s\n", sdc_last_error());
        return 2;
    }
    if (s != SDC_OK) {
        fprintf(stderr, "sdc: %s\n", sdc_last_error());
        if (s == SDC_ERR_INTERRUPTED)
            return sdc_signal_received() == 15 ? 143 : 130;
        return 1;
    }
    fprintf(stderr, "sdc: wrote %zu tensors to %s\n", count, a.out);
    return 0;
}
