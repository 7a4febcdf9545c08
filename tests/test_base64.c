/* Base64 of `sdc serve` (cmd/base64.c) against RFC 4648's test vectors, the data: prefix
 * browsers send, and the malformed texts that must be refused. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/base64.h"

static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

Test(base64, rfc4648_vectors)
{
    for (int i = 0; i < 7; i++) {
        char *t = sdc_base64_encode((const uint8_t *)plain[i], strlen(plain[i]));
        cr_assert_str_eq(t, coded[i]);
        free(t);
        uint8_t *out = NULL;
        size_t n = 0;
        cr_assert_eq(sdc_base64_decode(coded[i], &out, &n), 0, "%s", coded[i]);
        cr_assert_eq(n, strlen(plain[i]));
        cr_assert(memcmp(out, plain[i], n) == 0);
        free(out);
    }
}

Test(base64, all_bytes_round_trip)
{
    uint8_t data[256];
    for (int i = 0; i < 256; i++)
        data[i] = (uint8_t)(255 - i);
    char *t = sdc_base64_encode(data, sizeof data);
    uint8_t *out = NULL;
    size_t n = 0;
    cr_assert_eq(sdc_base64_decode(t, &out, &n), 0);
    cr_assert_eq(n, sizeof data);
    cr_assert(memcmp(out, data, n) == 0);
    free(out);
    free(t);
}

Test(base64, data_prefix_and_whitespace)
{
    uint8_t *out = NULL;
    size_t n = 0;
    cr_assert_eq(sdc_base64_decode("data:image/png;base64,Zm9v\nYmFy", &out, &n), 0);
    cr_assert_eq(n, 6);
    cr_assert(memcmp(out, "foobar", 6) == 0);
    free(out);
}

Test(base64, malformed_refused)
{
    static const char *const bad[] = {"Zm9", "Zm9v!", "Z===", "Zg==Zm9v", "Zg=a", "data:nocomma",
                                      "%%%not base64"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint8_t *out = NULL;
        size_t n = 0;
        cr_expect_eq(sdc_base64_decode(bad[i], &out, &n), -1, "'%s' accepted", bad[i]);
        cr_expect_null(out);
    }
}
