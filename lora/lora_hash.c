/* AUTOMATIC1111 writes `Lora hashes: "name: hash"` with the "addnet" hash of
 * sd-webui-additional-networks: the SHA-256 of a .safetensors file's bytes after its header
 * (so editing the metadata keeps the hash), its first 12 hex digits. A .pt / .ckpt file has
 * no such header: its hash is the SHA-256 of the whole file, as AUTOMATIC1111's. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lora/lora.h"
#include "ops/error.h"
#include "weights/ckpt.h"
#include "weights/sha256.h"

/* Positions f after a safetensors header. */
static sdc_status skip_header(FILE *f, const char *path)
{
    uint8_t len[8];
    if (fread(len, 1, 8, f) != 8)
        return sdc_fail(SDC_ERR_FORMAT, "%s: too short for a safetensors file", path);
    uint64_t header = 0;
    for (int i = 7; i >= 0; i--)
        header = header << 8 | len[i];
    if (header > (uint64_t)LONG_MAX - 8 || fseek(f, (long)(8 + header), SEEK_SET) != 0)
        return sdc_fail(SDC_ERR_FORMAT, "%s: header length %llu is past the file", path,
                        (unsigned long long)header);
    return SDC_OK;
}

static sdc_status hash_stream(FILE *f, const char *path, sdc_sha256 *ctx)
{
    enum { BLOCK = 1 << 20 };
    uint8_t *buf = malloc(BLOCK);
    if (!buf)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory hashing %s", path);
    size_t n;
    while ((n = fread(buf, 1, BLOCK, f)) > 0)
        sdc_sha256_update(ctx, buf, n);
    int failed = ferror(f);
    free(buf);
    return failed ? sdc_fail(SDC_ERR_IO, "%s: read error", path) : SDC_OK;
}

sdc_status sdc_lora_short_hash(const char *path, char hex[13])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open", path);
    sdc_sha256 ctx;
    sdc_sha256_init(&ctx);
    sdc_status s = sdc_ckpt_sniff(path) ? SDC_OK : skip_header(f, path);
    if (s == SDC_OK)
        s = hash_stream(f, path, &ctx);
    fclose(f);
    if (s != SDC_OK)
        return s;
    uint8_t digest[32];
    char full[65];
    sdc_sha256_final(&ctx, digest);
    sdc_sha256_hex(digest, full);
    for (int i = 0; i < 12; i++)
        hex[i] = full[i];
    hex[12] = '\0';
    return SDC_OK;
}
