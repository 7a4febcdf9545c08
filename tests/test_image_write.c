/* A failed picture write names the file and says what the system said (issue 16: a full
 * disk gave "cannot write PNG: Write Error"). /dev/full fails every write with ENOSPC. The
 * atomic writer (sdc_image_write) puts a temporary file beside its target, which /dev/ does
 * not allow, so the encoders are tested on a FILE* of /dev/full: unbuffered (the encoder's
 * own write fails) and buffered (the failure comes when stdio's buffer overflows). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"
#include "ops/error.h"

#define SIDE 128 /* noise this size compresses to more than stdio's buffer */

static sdc_image noise_image(void)
{
    sdc_image img = {.width = SIDE, .height = SIDE, .channels = 3};
    img.pixels = malloc((size_t)SIDE * SIDE * 3);
    cr_assert(img.pixels);
    uint32_t x = 12345;
    for (size_t i = 0; i < (size_t)SIDE * SIDE * 3; i++) {
        x = x * 1664525u + 1013904223u;
        img.pixels[i] = (uint8_t)(x >> 24);
    }
    return img;
}

static FILE *open_full(int buffered)
{
    FILE *f = fopen("/dev/full", "wb");
    cr_assert(f, "cannot open /dev/full: %s", strerror(errno));
    if (!buffered)
        setvbuf(f, NULL, _IONBF, 0);
    return f;
}

static void expect_enospc(sdc_status s, const char *path)
{
    char want[256];
    snprintf(want, sizeof want, "%s: cannot write: %s", path, strerror(ENOSPC));
    cr_expect_eq(s, SDC_ERR_IO, "%s: writing to /dev/full returned %s", path,
                 sdc_status_name(s));
    cr_expect_str_eq(sdc_last_error(), want);
}

static void write_full(const char *path, int buffered, int png_only)
{
    sdc_image img = noise_image();
    FILE *f = open_full(buffered);
    sdc_status s = png_only ? sdc_png_write_file(f, path, &img, "Steps: 1")
                            : sdc_image_encode(f, path, &img, "Steps: 1");
    expect_enospc(s, path);
    fclose(f);
    free(img.pixels);
}

Test(image_write, png_on_a_full_disk) { write_full("out.png", 0, 1); }
Test(image_write, png_on_a_full_disk_buffered) { write_full("out.png", 1, 1); }
Test(image_write, jpeg_on_a_full_disk) { write_full("out.jpg", 0, 0); }
Test(image_write, jpeg_on_a_full_disk_buffered) { write_full("out.jpg", 1, 0); }
Test(image_write, bmp_on_a_full_disk) { write_full("out.bmp", 0, 0); }
Test(image_write, bmp_on_a_full_disk_buffered) { write_full("out.bmp", 1, 0); }

/* Encoding errors that are not the system's keep libpng's reason. */
Test(image_write, png_encoding_error_is_not_an_io_reason)
{
    sdc_image img = noise_image();
    img.width = 0;
    FILE *f = open_full(0);
    sdc_status s = sdc_png_write_file(f, "zero.png", &img, NULL);
    cr_expect_eq(s, SDC_ERR_IO);
    cr_expect(strncmp(sdc_last_error(), "zero.png: cannot write PNG: ", 28) == 0, "%s",
              sdc_last_error());
    fclose(f);
    free(img.pixels);
}
