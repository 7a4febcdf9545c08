/* SHA-256 against the FIPS 180-2 test vectors, in one piece, in odd-sized pieces and from a
 * file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weights/hash_cache.h"
#include "weights/sha256.h"

static const char *hex_of(const void *data, size_t n)
{
    static char hex[65];
    uint8_t digest[32];
    sdc_sha256 ctx;
    sdc_sha256_init(&ctx);
    sdc_sha256_update(&ctx, data, n);
    sdc_sha256_final(&ctx, digest);
    sdc_sha256_hex(digest, hex);
    return hex;
}

static const char million_a[] =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

Test(sha256, fips_vectors)
{
    cr_expect_str_eq(hex_of("", 0),
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_expect_str_eq(hex_of("abc", 3),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    cr_expect_str_eq(hex_of(two, strlen(two)),
                     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char *a = malloc(1000000);
    cr_assert(a);
    memset(a, 'a', 1000000);
    cr_expect_str_eq(hex_of(a, 1000000), million_a);
    free(a);
}

Test(sha256, pieces_give_the_same_digest)
{
    char *a = malloc(1000000);
    cr_assert(a);
    memset(a, 'a', 1000000);
    sdc_sha256 ctx;
    sdc_sha256_init(&ctx);
    /* piece sizes that straddle the 64-byte blocks in every way */
    for (size_t off = 0, step = 1; off < 1000000; off += step, step = step * 7 % 191 + 1)
        sdc_sha256_update(&ctx, a + off, off + step > 1000000 ? 1000000 - off : step);
    uint8_t digest[32];
    char hex[65];
    sdc_sha256_final(&ctx, digest);
    sdc_sha256_hex(digest, hex);
    cr_expect_str_eq(hex, million_a);
    free(a);
}

Test(sha256, file_digest)
{
    char path[] = "/tmp/sdc_test_sha_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    char *a = malloc(1000000);
    cr_assert(a);
    memset(a, 'a', 1000000);
    cr_assert_eq(write(fd, a, 1000000), 1000000);
    close(fd);
    uint8_t digest[32];
    char hex[65];
    cr_assert_eq(sdc_sha256_file(path, digest), SDC_OK);
    sdc_sha256_hex(digest, hex);
    cr_expect_str_eq(hex, million_a);
    unlink(path);
    free(a);
    /* an empty file too (no mapping) */
    fd = mkstemp(strcpy(path, "/tmp/sdc_test_sha_XXXXXX"));
    close(fd);
    cr_assert_eq(sdc_sha256_file(path, digest), SDC_OK);
    sdc_sha256_hex(digest, hex);
    cr_expect_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    unlink(path);
    cr_expect_neq(sdc_sha256_file(path, digest), SDC_OK);
}

/* Replaces the hash recorded in the cache file with `fake` (same size / mtime / path). */
static void tamper_cache(const char *cache, const char *fake)
{
    FILE *f = fopen(cache, "r+");
    cr_assert(f, "no cache file %s", cache);
    cr_assert_eq(fwrite(fake, 1, 64, f), 64);
    fclose(f);
}

Test(sha256, cache_is_used_until_the_file_changes)
{
    char dir[] = "/tmp/sdc_test_cache_XXXXXX", path[64], cache[96];
    cr_assert(mkdtemp(dir));
    setenv("SDC_CACHE_DIR", dir, 1);
    snprintf(path, sizeof path, "%s/model.bin", dir);
    snprintf(cache, sizeof cache, "%s/hashes.tsv", dir);
    FILE *f = fopen(path, "w");
    fputs("abc", f);
    fclose(f);
    char hex[65];
    cr_assert_eq(sdc_file_sha256_cached(path, hex), SDC_OK);
    cr_expect_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* a second call answers from the cache: a tampered entry shows through */
    const char *fake = "0000000000000000000000000000000000000000000000000000000000000000";
    tamper_cache(cache, fake);
    cr_assert_eq(sdc_file_sha256_cached(path, hex), SDC_OK);
    cr_expect_str_eq(hex, fake);
    /* a changed file (size and mtime) is hashed again */
    f = fopen(path, "a");
    fputs("d", f);
    fclose(f);
    cr_assert_eq(sdc_file_sha256_cached(path, hex), SDC_OK);
    cr_expect_str_eq(hex, "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589");
    /* an unwritable cache folder is no error */
    setenv("SDC_CACHE_DIR", "/proc/sdc-no-such-dir", 1);
    cr_assert_eq(sdc_file_sha256_cached(path, hex), SDC_OK);
    cr_expect_str_eq(hex, "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589");
    unlink(path);
    unlink(cache);
    rmdir(dir);
}
