/* Inpainting masks: the first 4 bytes pick the target size, blur and inversion, the rest is
 * the image file. */
#include "image/mask.h"
#include "tests/fuzz/fuzz.h"

/* 4 Mpx, as fuzz_image: every parser path, no decode that outlasts the time limit */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    sdc_image_set_pixel_limit(4u << 20);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    int width = 1 + data[0] % 96, height = 1 + data[1] % 96;
    float blur = (float)(data[2] % 16) * 0.5f;
    const char *path = fuzz_file(data + 4, size - 4);
    sdc_image mask;
    if (sdc_mask_load(path, data[3] & 1, blur, width, height, &mask) == SDC_OK)
        sdc_image_free(&mask);
    return 0;
}
