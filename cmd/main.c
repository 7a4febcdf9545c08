#include <stdio.h>
#include <string.h>

#include "sdc.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("sdc %s\n", SDC_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: sdc --version\n");
    return 2;
}
