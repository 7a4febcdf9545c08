/* A failed picture write names the file and says what the system said (issue 16: a full
 * disk gave "cannot write PNG: Write Error"). /dev/full fails every write with ENOSPC. The
 * atomic writer (sdc_image_write) puts a temporary file beside its target, which /dev/ does
 * not allow, so the encoders are tested on a FILE* of /dev/full: unbuffered (the encoder's
 * own write fails) and buffered (the failure comes when stdio's buffer overflows). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Issue 23: the file ends up with the caller's umask (mkstemp's 0600 was forced to 0644). */
Test(image_write, created_with_the_umask)
{
    char dir[] = "/tmp/sdc-test-umask-XXXXXX", path[64];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.png", dir);
    sdc_image img = noise_image();
    mode_t old = umask(077);
    sdc_status s = sdc_image_write(path, &img, NULL, 0);
    umask(022);
    struct stat st;
    cr_assert_eq(s, SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "mode %o under umask 077", st.st_mode & 0777);
    unlink(path);
    cr_assert_eq(sdc_image_write(path, &img, NULL, 0), SDC_OK);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644, "mode %o under umask 022", st.st_mode & 0777);
    umask(old);
    unlink(path);
    rmdir(dir);
    free(img.pixels);
}

/* Issue 23: a rename that fails (a folder where the picture goes) leaves no temporary. */
Test(image_write, failed_rename_leaves_no_temporary)
{
    char dir[] = "/tmp/sdc-test-rename-XXXXXX", path[64];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.png", dir);
    cr_assert_eq(mkdir(path, 0777), 0);
    char inside[96];
    snprintf(inside, sizeof inside, "%s/x", path); /* a non-empty folder: rename fails */
    fclose(fopen(inside, "w"));
    sdc_image img = noise_image();
    cr_assert_neq(sdc_image_write(path, &img, NULL, 1), SDC_OK);
    DIR *d = opendir(dir);
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d)))
        entries += e->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(entries, 1, "a temporary was left beside %s", path);
    unlink(inside);
    rmdir(path);
    rmdir(dir);
    free(img.pixels);
}

/* Issue 23: a truncated BMP is an error, not an image with black rows. */
Test(image_write, truncated_bmp_is_an_error)
{
    char dir[] = "/tmp/sdc-test-bmp-XXXXXX", path[64], cut[64];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.bmp", dir);
    snprintf(cut, sizeof cut, "%s/cut.bmp", dir);
    sdc_image img = noise_image(), back;
    cr_assert_eq(sdc_image_write(path, &img, NULL, 0), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_image_load(path, &back, NULL), SDC_OK, "%s", sdc_last_error());
    sdc_image_free(&back);
    FILE *in = fopen(path, "rb"), *out = fopen(cut, "wb");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    cr_assert_eq(sdc_image_load(cut, &back, NULL), SDC_ERR_FORMAT);
    cr_assert(strstr(sdc_last_error(), "truncated BMP"), "%s", sdc_last_error());
    unlink(path);
    unlink(cut);
    rmdir(dir);
    free(img.pixels);
}
