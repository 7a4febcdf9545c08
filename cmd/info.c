/* `sdc info MODEL`: family, layout, dtypes, parameter counts and the short hash. */
#include <stdio.h>

#include "cmd/commands.h"
#include "sdc.h"

int sdc_cmd_info(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: sdc info MODEL\n");
        return 2;
    }
    if (sdc_model_info_print(argv[1], stdout) != SDC_OK) {
        fprintf(stderr, "sdc: %s\n", sdc_last_error());
        return 1;
    }
    return 0;
}
