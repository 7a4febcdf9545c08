/* safetensors reader: golden files open, and every kind of malformed file is refused with a
 * message naming the file and the fault. The crafted files are written by the tests. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/golden.h"
#include "weights/safetensors.h"

static char tmp_path[256];

static void write_raw(const void *bytes, size_t n)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/sdc_test_st_%d.safetensors", (int)getpid());
    FILE *f = fopen(tmp_path, "wb");
    cr_assert(f);
    if (n)
        cr_assert_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

/* Writes an 8-byte length, the header text, then `data_len` bytes of data. */
static void write_st(const char *header, size_t data_len)
{
    size_t hl = strlen(header);
    size_t n = 8 + hl + data_len;
    unsigned char *buf = calloc(1, n);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    for (size_t i = 0; i < data_len; i++)
        buf[8 + hl + i] = (unsigned char)i;
    write_raw(buf, n);
    free(buf);
}

static void expect_refused(const char *fragment)
{
    sdc_safetensors *st = (sdc_safetensors *)1;
    sdc_status s = sdc_safetensors_open(tmp_path, &st);
    cr_expect_neq(s, SDC_OK, "file was accepted");
    cr_expect_null(st);
    const char *msg = sdc_last_error();
    cr_expect(strstr(msg, tmp_path) != NULL, "message does not name the file: %s", msg);
    cr_expect(strstr(msg, fragment) != NULL, "message '%s' lacks '%s'", msg, fragment);
    cr_expect(strchr(msg, '\n') == NULL, "message is not one line");
    unlink(tmp_path);
}

Test(safetensors, valid_file_round_trip)
{
    write_st("{\"__metadata__\":{\"format\":\"pt\"},"
             "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"pos\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[16,24]}}   ",
             24);
    sdc_safetensors *st;
    cr_assert_eq(sdc_safetensors_open(tmp_path, &st), SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(sdc_safetensors_count(st), 3);
    const sdc_st_entry *a = sdc_safetensors_find(st, "a");
    const sdc_st_entry *b = sdc_safetensors_find(st, "b");
    cr_assert(a && b);
    cr_expect_eq(a->tensor.dtype, SDC_DTYPE_F32);
    cr_expect_eq(b->tensor.dtype, SDC_DTYPE_F16);
    cr_expect_eq(a->tensor.shape[0], 2);
    cr_expect_eq(sdc_safetensors_entry(st, 0), a, "entries are in data order");
    cr_expect_null(sdc_safetensors_find(st, "missing"));
    cr_expect_str_eq(sdc_safetensors_metadata(st, "format"), "pt");
    sdc_safetensors_close(st);
    unlink(tmp_path);
}

Test(safetensors, misaligned_data_is_copied_aligned)
{
    /* header of 61 bytes puts the data area at an odd address */
    write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1,5]}}  ", 5);
    sdc_safetensors *st;
    cr_assert_eq(sdc_safetensors_open(tmp_path, &st), SDC_OK, "%s", sdc_last_error());
    const sdc_st_entry *a = sdc_safetensors_find(st, "a");
    cr_expect_eq((uintptr_t)a->tensor.data % 4, 0);
    const unsigned char *p = a->tensor.data;
    cr_expect(p[0] == 1 && p[3] == 4);
    sdc_safetensors_close(st);
    unlink(tmp_path);
}

Test(safetensors, empty_file)
{
    write_raw("", 0);
    expect_refused("too short");
}

Test(safetensors, directory)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/sdc_test_dir_%d", (int)getpid());
    mkdir(tmp_path, 0700);
    sdc_safetensors *st;
    cr_expect_neq(sdc_safetensors_open(tmp_path, &st), SDC_OK);
    cr_expect(strstr(sdc_last_error(), "not a regular file"));
    rmdir(tmp_path);
}

Test(safetensors, missing_file)
{
    sdc_safetensors *st;
    cr_expect_eq(sdc_safetensors_open("/nonexistent/x.safetensors", &st), SDC_ERR_IO);
    cr_expect(strstr(sdc_last_error(), "/nonexistent/x.safetensors"));
}

Test(safetensors, header_longer_than_file)
{
    unsigned char buf[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_raw(buf, sizeof buf);
    expect_refused("header length");
}

Test(safetensors, absurd_header_length)
{
    unsigned char buf[16] = {0, 0, 0, 0, 0, 0, 0, 0x80, '{', '}'};
    write_raw(buf, sizeof buf);
    expect_refused("header length");
}

Test(safetensors, header_not_json)
{
    write_st("{not json", 0);
    expect_refused("not valid JSON");
}

Test(safetensors, header_not_object)
{
    write_st("[1, 2, 3]", 0);
    expect_refused("not a JSON object");
}

Test(safetensors, offsets_outside_data)
{
    write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
    expect_refused("outside the data area");
}

Test(safetensors, begin_after_end)
{
    write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8);
    expect_refused("begin > end");
}

Test(safetensors, overlapping_tensors)
{
    write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
    expect_refused("overlap");
}

Test(safetensors, length_does_not_match_shape)
{
    write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    expect_refused("need 12");
}

Test(safetensors, shape_product_overflow)
{
    write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
             "\"data_offsets\":[0,8]}}", 8);
    expect_refused("overflow");
}

Test(safetensors, unknown_dtype)
{
    write_st("{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16);
    expect_refused("unknown dtype");
}

Test(safetensors, duplicate_names)
{
    write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
    expect_refused("duplicate");
}

Test(safetensors, negative_dimension)
{
    write_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4);
    expect_refused("bad dimension");
}

Test(safetensors, golden_checkpoints_open)
{
    const char *files[] = {
        "models/tiny-sd1/model.safetensors",
        "models/tiny-sd1-inpaint/model.safetensors",
        "models/tiny-sd2v/model.safetensors",
        "models/tiny-sd1/diffusers/unet/diffusion_pytorch_model.safetensors",
        "unet/tiny-sd1.safetensors",
        "rng/randn.safetensors",
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        sdc_safetensors *st = golden_open(files[i]);
        cr_expect_gt(sdc_safetensors_count(st), 0, "%s", files[i]);
        sdc_safetensors_close(st);
    }
}
