/* png-psnr: how far apart two pictures of the same size are, as 8-bit RGB.
 *
 *   png-psnr A.png B.png
 *
 * Prints "PSNR X dB, largest difference N/255" ("inf" when the pictures are equal), the
 * measure bench_sd --stages psnr uses, so pictures written by different programs (sdc and
 * stable-diffusion.cpp, an f16 and a q8_0 model: bench/sdcpp_compare.sh) compare the same
 * way. Any format sdc reads (PNG, JPEG, BMP); alpha is composited on white. Exit status 0, or
 * 1 with a one-line error when a file cannot be read or the sizes differ, 2 on bad usage. */
#include <stdio.h>

#include "bench/psnr.h"
#include "image/image.h"

static int load(const char *path, sdc_image *img)
{
    if (sdc_image_load(path, img, NULL) == SDC_OK)
        return 0;
    fprintf(stderr, "png-psnr: %s\n", sdc_last_error());
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: png-psnr A.png B.png\n");
        return 2;
    }
    sdc_image a = {0}, b = {0};
    int rc = load(argv[1], &a) == 0 && load(argv[2], &b) == 0 ? 0 : 1;
    if (rc == 0 && (a.width != b.width || a.height != b.height)) {
        fprintf(stderr, "png-psnr: %s is %dx%d but %s is %dx%d\n", argv[1], a.width, a.height,
                argv[2], b.width, b.height);
        rc = 1;
    }
    if (rc == 0) {
        int worst;
        double psnr = sdc_bench_psnr_u8(a.pixels, b.pixels, (size_t)a.width * a.height * 3,
                                        &worst);
        printf("PSNR %.2f dB, largest difference %d/255\n", psnr, worst);
    }
    sdc_image_free(&a);
    sdc_image_free(&b);
    return rc;
}
