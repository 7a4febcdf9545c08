#include "clip/tokenizer_text.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "ops/error.h"

sdc_status sdc_u32_reserve(sdc_u32 *b, size_t cap)
{
    if (cap <= b->cap)
        return SDC_OK;
    size_t want = b->cap ? b->cap : 16;
    while (want < cap) {
        if (want > SIZE_MAX / 2 / sizeof *b->cp)
            return sdc_fail(SDC_ERR_NOMEM, "text buffer of %zu code points is too large", cap);
        want *= 2;
    }
    int32_t *p = realloc(b->cp, want * sizeof *p);
    if (!p)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for %zu code points", want);
    b->cp = p;
    b->cap = want;
    return SDC_OK;
}

sdc_status sdc_u32_push(sdc_u32 *b, int32_t c)
{
    if (b->n == b->cap) {
        sdc_status st = sdc_u32_reserve(b, b->n + 1);
        if (st)
            return st;
    }
    b->cp[b->n++] = c;
    return SDC_OK;
}

sdc_status sdc_u32_append(sdc_u32 *b, const int32_t *cp, size_t n)
{
    if (n > SIZE_MAX - b->n)
        return sdc_fail(SDC_ERR_NOMEM, "text buffer overflow");
    sdc_status st = sdc_u32_reserve(b, b->n + n);
    if (st)
        return st;
    if (n)
        memcpy(b->cp + b->n, cp, n * sizeof *cp);
    b->n += n;
    return SDC_OK;
}

sdc_status sdc_u32_append_utf8(sdc_u32 *b, const char *s)
{
    return sdc_utf8_decode(s, strlen(s), "literal", b);
}

void sdc_u32_free(sdc_u32 *b)
{
    free(b->cp);
    b->cp = NULL;
    b->n = b->cap = 0;
}

void sdc_u32_move(sdc_u32 *dst, sdc_u32 *src)
{
    free(dst->cp);
    *dst = *src;
    src->cp = NULL;
    src->n = src->cap = 0;
}

bool sdc_u32_equal(const sdc_u32 *a, const sdc_u32 *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->cp, b->cp, a->n * sizeof *a->cp) == 0);
}

/* Length of the sequence a lead byte starts and the smallest value it may encode (to
 * reject overlong forms); 0 for bytes that cannot start a sequence. */
static int utf8_lead(unsigned char c, int32_t *value, int32_t *min)
{
    if (c < 0x80) {
        *value = c;
        *min = 0;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        *value = c & 0x1F;
        *min = 0x80;
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        *value = c & 0x0F;
        *min = 0x800;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        *value = c & 0x07;
        *min = 0x10000;
        return 4;
    }
    return 0;
}

/* Decodes one strict UTF-8 sequence at u[0..avail); returns its length, 0 if invalid. */
static size_t decode_one(const unsigned char *u, size_t avail, int32_t *out)
{
    int32_t c, min;
    int k = utf8_lead(u[0], &c, &min);
    if (k == 0 || (size_t)k > avail)
        return 0;
    for (int j = 1; j < k; j++) {
        if ((u[j] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (u[j] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *out = c;
    return (size_t)k;
}

sdc_status sdc_utf8_decode(const char *s, size_t len, const char *what, sdc_u32 *out)
{
    const unsigned char *u = (const unsigned char *)s;
    sdc_status st = sdc_u32_reserve(out, out->n + len);
    if (st)
        return st;
    for (size_t i = 0; i < len;) {
        size_t k = decode_one(u + i, len - i, &out->cp[out->n]);
        if (k == 0)
            return sdc_fail(SDC_ERR_ARG, "%s: invalid UTF-8 at byte %zu", what, i);
        out->n++;
        i += k;
    }
    return SDC_OK;
}

bool sdc_utf8_valid(const char *s, size_t len, size_t *bad_at)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        int32_t c;
        size_t k = decode_one(u + i, len - i, &c);
        if (k == 0) {
            *bad_at = i;
            return false;
        }
        i += k;
    }
    return true;
}

size_t sdc_utf8_put(int32_t c, char dst[4])
{
    if (c < 0x80) {
        dst[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        dst[0] = (char)(0xC0 | (c >> 6));
        dst[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        dst[0] = (char)(0xE0 | (c >> 12));
        dst[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        dst[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | (c >> 18));
    dst[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    dst[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    dst[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

sdc_status sdc_utf8_encode(const int32_t *cp, size_t n, char **out, size_t *len)
{
    *out = NULL;
    if (n > (SIZE_MAX - 1) / 4)
        return sdc_fail(SDC_ERR_NOMEM, "text of %zu code points is too large", n);
    char *s = malloc(n * 4 + 1);
    if (!s)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory encoding %zu code points", n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += sdc_utf8_put(cp[i], s + k);
    s[k] = '\0';
    *out = s;
    if (len)
        *len = k;
    return SDC_OK;
}

static int category(int32_t c) { return utf8proc_category(c); }

bool sdc_uc_isspace(int32_t c)
{
    if (c < 0x80)
        return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
    int bidi = utf8proc_get_property(c)->bidi_class;
    return bidi == UTF8PROC_BIDI_CLASS_WS || bidi == UTF8PROC_BIDI_CLASS_B ||
           bidi == UTF8PROC_BIDI_CLASS_S || category(c) == UTF8PROC_CATEGORY_ZS;
}

bool sdc_uc_isletter(int32_t c)
{
    int cat = category(c);
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

bool sdc_uc_isnumber(int32_t c)
{
    int cat = category(c);
    return cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO;
}

bool sdc_uc_isword(int32_t c) { return c == '_' || sdc_uc_isletter(c) || sdc_uc_isnumber(c); }

int sdc_uc_digit_value(int32_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (category(c) != UTF8PROC_CATEGORY_ND)
        return -1;
    /* Unicode encodes decimal digits in contiguous runs of ten, ascending from zero, so
     * the value is the distance to the start of the run of Nd characters, modulo 10. */
    int32_t start = c;
    while (start > 0 && c - start < 100 && category(start - 1) == UTF8PROC_CATEGORY_ND)
        start--;
    return (int)((c - start) % 10);
}
