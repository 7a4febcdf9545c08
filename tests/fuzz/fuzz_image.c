/* PNG (libpng), JPEG and BMP (stb) loading as RGB + alpha and as gray. */
#include "image/image.h"
#include "tests/fuzz/fuzz.h"

/* 4 Mpx: every parser path, without pictures whose decoding alone outlasts the time limit */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    sdc_image_set_pixel_limit(4u << 20);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    sdc_image rgb, alpha;
    if (sdc_image_load(path, &rgb, &alpha) == SDC_OK) {
        sdc_image_free(&rgb);
        sdc_image_free(&alpha);
    }
    if (sdc_image_load_gray(path, &rgb, NULL) == SDC_OK)
        sdc_image_free(&rgb);
    return 0;
}
