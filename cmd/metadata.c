/* `sdc metadata IMAGE.png`: prints the generation parameters embedded in a PNG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "ops/error.h"
#include "sdc.h"

int sdc_cmd_metadata(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: sdc metadata IMAGE.png\n");
        return 2;
    }
    char *text;
    if (sdc_png_read_parameters(argv[1], &text) != SDC_OK) {
        fprintf(stderr, "sdc: %s\n", sdc_last_error());
        return 1;
    }
    if (!text) {
        fprintf(stderr, "sdc: %s: no 'parameters' metadata\n", argv[1]);
        return 1;
    }
    /* text from a file: no ESC, OSC, BEL or CR reaches the terminal (lines are kept) */
    sdc_fputs_escaped(text, stdout, 1);
    putchar('\n');
    free(text);
    return 0;
}
