#include "cmd/base64.h"

#include <stdlib.h>
#include <string.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *sdc_base64_encode(const uint8_t *data, size_t size)
{
    char *text = malloc((size + 2) / 3 * 4 + 1);
    if (!text)
        return NULL;
    char *t = text;
    for (size_t i = 0; i < size; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < size)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < size)
            v |= data[i + 2];
        *t++ = alphabet[v >> 18 & 63];
        *t++ = alphabet[v >> 12 & 63];
        *t++ = i + 1 < size ? alphabet[v >> 6 & 63] : '=';
        *t++ = i + 2 < size ? alphabet[v & 63] : '=';
    }
    *t = '\0';
    return text;
}

static int value_of(char c)
{
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

/* Appends the bytes of one group of 4 symbols (pad = how many of them were '='). */
static void flush_group(const int q[4], int pad, uint8_t *out, size_t *n)
{
    uint32_t v = (uint32_t)q[0] << 18 | (uint32_t)q[1] << 12 | (uint32_t)q[2] << 6 | (uint32_t)q[3];
    out[(*n)++] = (uint8_t)(v >> 16);
    if (pad < 2)
        out[(*n)++] = (uint8_t)(v >> 8);
    if (pad < 1)
        out[(*n)++] = (uint8_t)v;
}

int sdc_base64_decode(const char *text, uint8_t **out, size_t *size)
{
    if (strncmp(text, "data:", 5) == 0) {
        const char *comma = strchr(text, ',');
        if (!comma)
            return -1;
        text = comma + 1;
    }
    uint8_t *buf = malloc(strlen(text) / 4 * 3 + 3);
    if (!buf)
        return -1;
    size_t n = 0;
    int q[4], k = 0, pad = 0, ended = 0;
    for (const char *p = text; *p; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
            continue;
        int v = *p == '=' ? 0 : value_of(*p);
        if (v < 0 || ended || (pad && *p != '=') || (*p == '=' && k < 2))
            goto bad;
        pad += *p == '=';
        q[k++] = v;
        if (k == 4) {
            flush_group(q, pad, buf, &n);
            ended = pad > 0; /* padding only in the last group */
            k = 0;
        }
    }
    if (k != 0)
        goto bad;
    *out = buf;
    *size = n;
    return 0;
bad:
    free(buf);
    return -1;
}
