/* TAESD files (vae/taesd.h): the layout detection and the key set, shape and structure checks
 * on top of the safetensors reader; a TAESD that loads decodes a 1x1 latent and encodes an
 * 8x8 picture, so a structure the checks let through cannot read or write past a buffer. */
#include <stdlib.h>

#include "tests/fuzz/fuzz.h"
#include "vae/taesd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdc_taesd *t;
    if (sdc_taesd_load(fuzz_file(data, size), &t) != SDC_OK)
        return 0;
    int zc = sdc_taesd_latent_channels(t);
    float *latent = calloc((size_t)zc, sizeof(float)), *image = calloc(3 * 64, sizeof(float));
    if (latent && image) {
        (void)sdc_taesd_decode(t, latent, 1, 1, 1, image);
        (void)sdc_taesd_encode(t, image, 1, 8, 8, latent);
    }
    free(latent);
    free(image);
    sdc_taesd_free(t);
    return 0;
}
