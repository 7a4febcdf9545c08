/* `sdc metadata`: the 'parameters' text chunk of a PNG (tEXt, zTXt, iTXt). */
#include <stdlib.h>

#include "image/image.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    if (sdc_png_read_text(fuzz_file(data, size), "parameters", &text) == SDC_OK)
        free(text);
    return 0;
}
