/* sdc: the command-line program. Subcommands: generate (default), batch, info, metadata,
 * convert, serve. */
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/options.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "info") == 0)
        return sdc_cmd_info(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "metadata") == 0)
        return sdc_cmd_metadata(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "batch") == 0)
        return sdc_cmd_batch(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "convert") == 0)
        return sdc_cmd_convert(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        return sdc_cmd_serve(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "generate") == 0)
        return sdc_cmd_generate(argc - 1, argv + 1);
    if (argc == 1) {
        sdc_cli_print_help(stderr);
        return 2;
    }
    return sdc_cmd_generate(argc, argv);
}
