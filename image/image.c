#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image.h>
#include <stb_image_write.h>

#include "image/image_internal.h"
#include "ops/error.h"

void sdc_image_free(sdc_image *img)
{
    if (!img)
        return;
    free(img->pixels);
    img->pixels = NULL;
    img->width = img->height = img->channels = 0;
}

static uint64_t pixel_limit = SDC_IMAGE_MAX_PIXELS;

uint64_t sdc_image_pixel_limit(void) { return pixel_limit; }

void sdc_image_set_pixel_limit(uint64_t pixels)
{
    pixel_limit = pixels && pixels < SDC_IMAGE_MAX_PIXELS ? pixels : SDC_IMAGE_MAX_PIXELS;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* stb_image fills the rows a truncated BMP lacks with zeros (black, and --resume would take
 * it for finished): an uncompressed BMP must hold every row its header declares. */
static sdc_status check_bmp_size(const char *path, FILE *f)
{
    uint8_t h[30];
    int full = fread(h, 1, sizeof h, f) == sizeof h;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    rewind(f);
    if (!full || h[0] != 'B' || h[1] != 'M' || size < 0)
        return SDC_OK; /* not a BMP, or too short for stb to take it for one */
    uint32_t header = le32(h + 14);
    int64_t width, height;
    int bits;
    if (header == 12) { /* OS/2 BITMAPCOREHEADER */
        width = h[18] | h[19] << 8;
        height = h[20] | h[21] << 8;
        bits = h[24] | h[25] << 8;
    } else {
        width = (int32_t)le32(h + 18);
        height = (int32_t)le32(h + 22);
        bits = h[28] | h[29] << 8;
        uint8_t more[4];
        if (fseek(f, 30, SEEK_SET) != 0 || fread(more, 1, 4, f) != 4)
            bits = 0;
        rewind(f);
        if (bits && le32(more) != 0 && le32(more) != 3) /* RLE or embedded JPEG/PNG */
            return SDC_OK;
    }
    if (height < 0)
        height = -height;
    if (bits <= 0 || width <= 0 || width > SDC_IMAGE_MAX_SIDE || height > SDC_IMAGE_MAX_SIDE)
        return SDC_OK; /* stb's own checks say what is wrong */
    int64_t need = (int64_t)le32(h + 10) + (width * bits + 31) / 32 * 4 * height;
    if (size < need)
        return sdc_fail(SDC_ERR_FORMAT, "%s: truncated BMP: %ld bytes, its header needs %lld",
                        path, size, (long long)need);
    return SDC_OK;
}

static sdc_status stb_read_raw(const char *path, FILE *f, sdc_raw_image *out)
{
    int w, h, ch;
    memset(out, 0, sizeof *out);
    sdc_status bmp = check_bmp_size(path, f);
    if (bmp != SDC_OK)
        return bmp;
    if (!stbi_info_from_file(f, &w, &h, &ch))
        return sdc_fail(SDC_ERR_FORMAT, "%s: not a PNG, JPEG or BMP image (%s)", path,
                        stbi_failure_reason());
    if (w <= 0 || h <= 0 || w > SDC_IMAGE_MAX_SIDE || h > SDC_IMAGE_MAX_SIDE ||
        (uint64_t)w * h > sdc_image_pixel_limit())
        return sdc_fail(SDC_ERR_FORMAT, "%s: image size %dx%d is beyond the limits (%d pixels a "
                        "side, %llu in all)", path, w, h, SDC_IMAGE_MAX_SIDE,
                        (unsigned long long)sdc_image_pixel_limit());
    unsigned char *px = stbi_load_from_file(f, &w, &h, &ch, 0);
    if (!px)
        return sdc_fail(SDC_ERR_FORMAT, "%s: cannot decode image: %s", path,
                        stbi_failure_reason());
    out->width = w;
    out->height = h;
    out->channels = ch;
    out->bits = 8;
    out->pixels = malloc((size_t)w * h * ch);
    if (out->pixels)
        memcpy(out->pixels, px, (size_t)w * h * ch);
    stbi_image_free(px);
    return out->pixels ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
}

sdc_status sdc_image_check_input(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return sdc_fail(SDC_ERR_IO, "%s: not a regular file (%s)", path,
                        S_ISDIR(st.st_mode) ? "a folder" : S_ISFIFO(st.st_mode) ? "a FIFO"
                                                                : "a device or socket");
    return SDC_OK;
}

sdc_status sdc_image_read_raw(const char *path, sdc_raw_image *raw, int keep16)
{
    sdc_status regular = sdc_image_check_input(path);
    if (regular != SDC_OK)
        return regular;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char sig[8] = {0};
    size_t got = fread(sig, 1, sizeof sig, f);
    rewind(f);
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    sdc_status s;
    if (got == 0)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: file is empty", path);
    else if (got == 8 && memcmp(sig, png_sig, 8) == 0)
        s = sdc_png_read_raw(path, f, raw, keep16);
    else
        s = stb_read_raw(path, f, raw);
    fclose(f);
    if (s == SDC_OK && (raw->width <= 0 || raw->height <= 0)) {
        free(raw->pixels);
        return sdc_fail(SDC_ERR_FORMAT, "%s: image has zero size", path);
    }
    return s;
}

static sdc_status alloc_image(sdc_image *img, int w, int h, int ch, const char *path)
{
    img->width = w;
    img->height = h;
    img->channels = ch;
    img->pixels = malloc((size_t)w * h * ch);
    return img->pixels ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
}

/* Splits raw 1-4 channel pixels into RGB (or gray) composited on white, plus alpha. */
static sdc_status convert_raw(const char *path, const sdc_raw_image *raw, int out_channels,
                              sdc_image *img, sdc_image *alpha)
{
    int has_alpha = raw->channels == 2 || raw->channels == 4;
    int color = raw->channels >= 3;
    size_t n = (size_t)raw->width * raw->height;
    sdc_status s = alloc_image(img, raw->width, raw->height, out_channels, path);
    if (s == SDC_OK && alpha && has_alpha)
        s = alloc_image(alpha, raw->width, raw->height, 1, path);
    if (s != SDC_OK) {
        sdc_image_free(img);
        return s;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = raw->pixels + i * raw->channels;
        int a = has_alpha ? p[raw->channels - 1] : 255;
        int rgb[3] = {p[0], color ? p[1] : p[0], color ? p[2] : p[0]};
        for (int c = 0; c < 3; c++) /* composite on white */
            rgb[c] = (rgb[c] * a + 255 * (255 - a) + 127) / 255;
        if (out_channels == 3) {
            for (int c = 0; c < 3; c++)
                img->pixels[i * 3 + c] = (uint8_t)rgb[c];
        } else { /* ITU-R 601 luma, as PIL's convert('L') */
            img->pixels[i] = (uint8_t)((rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114 + 500) / 1000);
        }
        if (alpha && has_alpha)
            alpha->pixels[i] = (uint8_t)a;
    }
    return SDC_OK;
}

static sdc_status load_as(const char *path, int channels, sdc_image *img, sdc_image *alpha)
{
    memset(img, 0, sizeof *img);
    if (alpha)
        memset(alpha, 0, sizeof *alpha);
    sdc_raw_image raw;
    sdc_status s = sdc_image_read_raw(path, &raw, 0);
    if (s != SDC_OK)
        return s;
    s = convert_raw(path, &raw, channels, img, alpha);
    free(raw.pixels);
    return s;
}

sdc_status sdc_image_load(const char *path, sdc_image *rgb, sdc_image *alpha)
{
    return load_as(path, 3, rgb, alpha);
}

sdc_status sdc_image_load_gray(const char *path, sdc_image *gray, sdc_image *alpha)
{
    return load_as(path, 1, gray, alpha);
}

/* stb's writers cannot fail on output: the first failed write keeps its errno here, and
 * later ones are skipped (the file is discarded anyway). */
typedef struct stb_out {
    FILE *f;
    int err;
} stb_out;

static void stb_to_file(void *context, void *data, int size)
{
    stb_out *out = context;
    if (out->err)
        return;
    errno = 0;
    if (fwrite(data, 1, (size_t)size, out->f) != (size_t)size)
        out->err = errno ? errno : EIO;
}

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), m = strlen(ext);
    return n > m && strcasecmp(path + n - m, ext) == 0;
}

sdc_status sdc_image_encode(FILE *f, const char *path, const sdc_image *img,
                            const char *params)
{
    if (has_ext(path, ".png"))
        return sdc_png_write_file(f, path, img, params);
    int ok;
    stb_out out = {f, 0};
    if (has_ext(path, ".jpg") || has_ext(path, ".jpeg"))
        ok = stbi_write_jpg_to_func(stb_to_file, &out, img->width, img->height, img->channels,
                                    img->pixels, 95);
    else if (has_ext(path, ".bmp"))
        ok = stbi_write_bmp_to_func(stb_to_file, &out, img->width, img->height, img->channels,
                                    img->pixels);
    else
        return sdc_fail(SDC_ERR_ARG, "%s: unknown image type (use .png, .jpg or .bmp)", path);
    if (out.err)
        return sdc_fail(SDC_ERR_IO, "%s: cannot write: %s", path, strerror(out.err));
    return ok ? SDC_OK : sdc_fail(SDC_ERR_IO, "%s: cannot encode image", path);
}

sdc_status sdc_image_check_output_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (strcmp(path, "-") == 0)
        return sdc_fail(SDC_ERR_ARG, "'-': images cannot be written to standard output");
    if (!dot || dot == base)
        return sdc_fail(SDC_ERR_ARG, "'%s': an output needs a file name ending in .png, .jpg "
                        "or .bmp", path);
    if (!has_ext(base, ".png") && !has_ext(base, ".jpg") && !has_ext(base, ".jpeg") &&
        !has_ext(base, ".bmp"))
        return sdc_fail(SDC_ERR_ARG, "'%s': unknown image type (use .png, .jpg or .bmp)", path);
    return SDC_OK;
}

sdc_status sdc_image_check_output(const char *path, int overwrite, int make_parents)
{
    sdc_status s = sdc_image_check_output_name(path);
    if (s != SDC_OK)
        return s;
    struct stat st;
    if (stat(path, &st) == 0 && (S_ISDIR(st.st_mode) || !overwrite))
        return sdc_fail(SDC_ERR_IO, "%s: %s", path, S_ISDIR(st.st_mode) ? "is a folder" :
                        "file exists (use --overwrite to replace it)");
    const char *slash = strrchr(path, '/');
    if (!slash || make_parents)
        return SDC_OK;
    char *dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (!dir)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    int bad = stat(dir, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
    s = bad ? sdc_fail(SDC_ERR_IO, "%s: cannot create: folder %s: %s", path, dir,
                       strerror(bad)) : SDC_OK;
    free(dir);
    return s;
}

/* The caller's umask, for files made with mkstemp (which gives 0600 whatever it says). No
 * other thread changes the umask while this reads it. */
static mode_t file_mode(void)
{
    mode_t mask = umask(077);
    umask(mask);
    return 0666 & ~mask;
}

/* Moves the finished temporary into place; without `overwrite`, link() refuses an existing
 * target atomically (no check-then-rename race). */
static sdc_status publish(const char *tmp, const char *path, int overwrite)
{
    if (overwrite) {
        if (rename(tmp, path) != 0) {
            int err = errno;
            unlink(tmp); /* a folder in the way, say: nothing may be left behind */
            return sdc_fail(SDC_ERR_IO, "%s: cannot rename into place: %s", path, strerror(err));
        }
        return SDC_OK;
    }
    if (link(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        if (err == EEXIST)
            return sdc_fail(SDC_ERR_IO, "%s: file exists (use --overwrite to replace it)", path);
        return sdc_fail(SDC_ERR_IO, "%s: cannot create: %s", path, strerror(err));
    }
    unlink(tmp);
    return SDC_OK;
}

sdc_status sdc_image_write(const char *path, const sdc_image *img, const char *parameters,
                           int overwrite)
{
    if (!overwrite && access(path, F_OK) == 0)
        return sdc_fail(SDC_ERR_IO, "%s: file exists (use --overwrite to replace it)", path);
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        sdc_status s = sdc_fail(SDC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return s;
    }
    fchmod(fd, file_mode());
    FILE *f = fdopen(fd, "wb");
    sdc_status s = f ? sdc_image_encode(f, path, img, parameters)
                     : sdc_fail(SDC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    if (f && s == SDC_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        s = sdc_fail(SDC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    if (f ? fclose(f) != 0 : close(fd) != 0)
        s = s == SDC_OK ? sdc_fail(SDC_ERR_IO, "%s: cannot write: %s", path, strerror(errno)) : s;
    if (s == SDC_OK)
        s = publish(tmp, path, overwrite);
    else
        unlink(tmp);
    free(tmp);
    return s;
}

sdc_status sdc_image_save(const char *path, const uint8_t *rgb, int width, int height,
                          const char *parameters, int overwrite)
{
    /* the image is only read: the cast lends the caller's pixels to the internal type */
    sdc_image img = {width, height, 3, (uint8_t *)rgb};
    return sdc_image_write(path, &img, parameters, overwrite);
}

sdc_status sdc_image_read(const char *path, uint8_t **rgb, int *width, int *height)
{
    sdc_image img;
    sdc_status s = sdc_image_load(path, &img, NULL);
    *rgb = s == SDC_OK ? img.pixels : NULL;
    *width = s == SDC_OK ? img.width : 0;
    *height = s == SDC_OK ? img.height : 0;
    return s;
}

sdc_status sdc_png_read_parameters(const char *path, char **text)
{
    return sdc_png_read_text(path, "parameters", text);
}
