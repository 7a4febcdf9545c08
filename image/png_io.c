/* PNG reading and writing with libpng. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"
#include "ops/error.h"

typedef struct png_err_ctx {
    jmp_buf jump;
    char message[256];
    FILE *out;     /* writing: the file (libpng's own writer only says "Write Error") */
    int out_errno; /* writing: what the system said when a write failed, else 0 */
} png_err_ctx;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_err_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->message, sizeof ctx->message, "%s", msg);
    longjmp(ctx->jump, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Normalises any PNG to gray/gray+alpha/RGB/RGBA of 8 bits (or 16 when keep16 and the file
 * has them, in host byte order). */
static void set_transforms(png_structp png, png_infop info, int keep16)
{
    int color = png_get_color_type(png, info);
    if (png_get_bit_depth(png, info) == 16 && !keep16)
        png_set_strip_16(png);
    if (png_get_bit_depth(png, info) == 16 && keep16) {
        const uint16_t one = 1;
        if (*(const uint8_t *)&one == 1) /* PNG samples are big-endian */
            png_set_swap(png);
    }
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    png_set_packing(png);
    png_read_update_info(png, info);
}

/* libpng allocates a text chunk's declared length before reading it (whatever
 * png_set_chunk_malloc_max says), so a 200-byte file declaring a 2 GB iTXt takes 2 GB.
 * Walks the chunk headers first: no chunk may claim more bytes than the file has left.
 * Leaves f at the start. */
static sdc_status check_chunk_lengths(const char *path, FILE *f)
{
    if (fseek(f, 0, SEEK_END) != 0)
        return sdc_fail(SDC_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    long size = ftell(f);
    long at = 8; /* after the signature */
    sdc_status s = SDC_OK;
    while (s == SDC_OK && at + 8 <= size) {
        uint8_t head[8];
        if (fseek(f, at, SEEK_SET) != 0 || fread(head, 1, 8, f) != 8)
            break;
        uint32_t len = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 |
                       (uint32_t)head[2] << 8 | head[3];
        if ((long)len > size - at - 12)
            s = sdc_fail(SDC_ERR_FORMAT, "%s: bad PNG: chunk '%.4s' claims %u bytes, more than "
                         "the file holds", path, (const char *)head + 4, len);
        if (memcmp(head + 4, "IEND", 4) == 0)
            break;
        at += 12 + (long)len;
    }
    rewind(f);
    return s;
}

sdc_status sdc_png_read_raw(const char *path, FILE *f, sdc_raw_image *out, int keep16)
{
    png_err_ctx ctx;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error,
                                             on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *volatile rows = NULL; /* volatile: still valid after png_error longjmps */
    memset(out, 0, sizeof *out);
    sdc_status s = check_chunk_lengths(path, f);
    if (s != SDC_OK || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        return s != SDC_OK ? s : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    }
    if (setjmp(ctx.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        free(out->pixels);
        out->pixels = NULL;
        return sdc_fail(SDC_ERR_FORMAT, "%s: bad PNG: %s", path, ctx.message);
    }
    png_set_user_limits(png, SDC_IMAGE_MAX_SIDE, SDC_IMAGE_MAX_SIDE);
    png_set_chunk_malloc_max(png, 8u << 20);
    png_init_io(png, f);
    png_read_info(png, info);
    set_transforms(png, info, keep16);
    uint32_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int ch = png_get_channels(png, info), bytes = png_get_bit_depth(png, info) == 16 ? 2 : 1;
    if ((uint64_t)w * h > sdc_image_pixel_limit())
        png_error(png, "image has too many pixels");
    out->width = (int)w;
    out->height = (int)h;
    out->channels = ch;
    out->bits = 8 * bytes;
    out->pixels = malloc((size_t)w * h * ch * bytes);
    rows = malloc(sizeof *rows * h);
    if (!out->pixels || !rows)
        png_error(png, "out of memory");
    for (uint32_t y = 0; y < h; y++)
        rows[y] = out->pixels + (size_t)y * w * ch * bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    return SDC_OK;
}

/* The system's reason is kept for the message ("No space left on device"); a short write
 * without errno (not expected from stdio) is still an I/O error. */
static void write_failed(png_structp png, png_err_ctx *ctx)
{
    ctx->out_errno = errno ? errno : EIO;
    png_error(png, strerror(ctx->out_errno));
}

static void on_png_write(png_structp png, png_bytep data, size_t length)
{
    png_err_ctx *ctx = png_get_io_ptr(png);
    errno = 0;
    if (fwrite(data, 1, length, ctx->out) != length)
        write_failed(png, ctx);
}

static void on_png_flush(png_structp png)
{
    png_err_ctx *ctx = png_get_io_ptr(png);
    errno = 0;
    if (fflush(ctx->out) != 0)
        write_failed(png, ctx);
}

sdc_status sdc_png_write_file(FILE *f, const char *path, const sdc_image *img,
                              const char *parameters)
{
    png_err_ctx ctx = {.out = f};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error,
                                              on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    }
    if (setjmp(ctx.jump)) {
        png_destroy_write_struct(&png, &info);
        if (ctx.out_errno)
            return sdc_fail(SDC_ERR_IO, "%s: cannot write: %s", path, strerror(ctx.out_errno));
        return sdc_fail(SDC_ERR_IO, "%s: cannot write PNG: %s", path, ctx.message);
    }
    png_set_write_fn(png, &ctx, on_png_write, on_png_flush);
    png_set_IHDR(png, info, (uint32_t)img->width, (uint32_t)img->height, 8,
                 img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (parameters) {
        png_text text = {0};
        text.compression = PNG_TEXT_COMPRESSION_NONE;
        text.key = "parameters";
        text.text = (char *)parameters;
        text.text_length = strlen(parameters);
        png_set_text(png, info, &text, 1);
    }
    png_write_info(png, info);
    for (int y = 0; y < img->height; y++)
        png_write_row(png, img->pixels + (size_t)y * img->width * img->channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return SDC_OK;
}

sdc_status sdc_png_read_text(const char *path, const char *key, char **value)
{
    *value = NULL;
    sdc_status regular = sdc_image_check_input(path);
    if (regular != SDC_OK)
        return regular;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    png_err_ctx ctx;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error,
                                             on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    sdc_status s = check_chunk_lengths(path, f);
    if (s != SDC_OK || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return s != SDC_OK ? s : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    }
    if (setjmp(ctx.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        free(*value);
        *value = NULL;
        return sdc_fail(SDC_ERR_FORMAT, "%s: bad PNG: %s", path, ctx.message);
    }
    png_set_chunk_malloc_max(png, 8u << 20);
    png_init_io(png, f);
    png_read_info(png, info);
    png_textp texts;
    int n = 0;
    png_get_text(png, info, &texts, &n);
    for (int i = 0; i < n && !*value; i++)
        if (strcmp(texts[i].key, key) == 0)
            *value = strdup(texts[i].text ? texts[i].text : "");
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return SDC_OK;
}
