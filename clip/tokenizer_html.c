#include "clip/tokenizer_html.h"

#include <stdbool.h>
#include <string.h>
#include <utf8proc.h>

/* Bytes 0x80..0x9F in Windows-1252; the five undefined ones stay as C1 controls, which is
 * what both Python's html module and ftfy's "sloppy" codec do. */
static const int32_t cp1252_c1[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

int32_t sdc_cp1252_c1(int32_t byte) { return cp1252_c1[byte - 0x80]; }

static const sdc_html_entity *entity_find(const char *name, size_t len)
{
    size_t lo = 0, hi = sdc_html_entity_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *e = sdc_html_entities[mid].name;
        size_t elen = strlen(e);
        int c = memcmp(e, name, elen < len ? elen : len);
        if (c == 0)
            c = (elen > len) - (elen < len);
        if (c == 0)
            return &sdc_html_entities[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool is_ascii_digit(int32_t c) { return c >= '0' && c <= '9'; }

static int hex_value(int32_t c)
{
    if (is_ascii_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Python's html module drops these code points when a numeric reference names them. */
static bool invalid_codepoint(int32_t v)
{
    return (v >= 0x1 && v <= 0x8) || v == 0xB || (v >= 0xE && v <= 0x1F) ||
           (v >= 0x7F && v <= 0x9F) || (v >= 0xFDD0 && v <= 0xFDEF) ||
           (v & 0xFFFE) == 0xFFFE;
}

/* Appends what a numeric reference to v decodes to (v saturated at 0x110000). */
static sdc_status push_numeric(int32_t v, sdc_u32 *out)
{
    if (v == 0)
        return sdc_u32_push(out, 0xFFFD);
    if (v == 0x0D)
        return sdc_u32_push(out, 0x0D);
    if (v >= 0x80 && v <= 0x9F)
        return sdc_u32_push(out, sdc_cp1252_c1(v));
    if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
        return sdc_u32_push(out, 0xFFFD);
    if (invalid_codepoint(v))
        return SDC_OK;
    return sdc_u32_push(out, v);
}

/* "#123;?" or "#x1F;?" after the '&' at s[0]; returns the length matched (0: none). */
static size_t numeric_ref(const int32_t *s, size_t n, int32_t *value)
{
    size_t j = 2;
    int base = 10;
    if (n <= 2)
        return 0;
    if (!is_ascii_digit(s[2])) {
        if ((s[2] != 'x' && s[2] != 'X') || n <= 3 || hex_value(s[3]) < 0)
            return 0;
        base = 16;
        j = 3;
    }
    int64_t v = 0;
    for (; j < n; j++) {
        int d = base == 16 ? hex_value(s[j]) : (is_ascii_digit(s[j]) ? s[j] - '0' : -1);
        if (d < 0)
            break;
        v = v * base + d;
        if (v > 0x110000)
            v = 0x110000;
    }
    *value = (int32_t)v;
    return j < n && s[j] == ';' ? j + 1 : j;
}

static bool name_char(int32_t c)
{
    return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' &&
           c != '#' && c != ';';
}

/* A named reference after the '&' at s[0], as Python decodes it: the exact name, else
 * the longest legacy (semicolon-free) name that prefixes it. Returns the length matched. */
static size_t named_ref(const int32_t *s, size_t n, sdc_u32 *out, sdc_status *st)
{
    char name[33];
    size_t k = 0, ascii = 0;
    while (k < 32 && 1 + k < n && name_char(s[1 + k])) {
        if (ascii == k && s[1 + k] < 0x80)
            name[ascii++] = (char)s[1 + k];
        k++;
    }
    if (k == 0)
        return 0;
    bool semi = 1 + k < n && s[1 + k] == ';';
    size_t len = 1 + k + semi;
    const sdc_html_entity *e = ascii == k ? entity_find(name, k) : NULL;
    if (e && (semi || e->legacy)) {
        *st = sdc_u32_push(out, e->cp);
        return len;
    }
    for (size_t x = semi ? k : k - 1; x >= 2 && x <= k; x--) {
        if (x > ascii)
            continue;
        e = entity_find(name, x);
        if (e && e->legacy) {
            *st = sdc_u32_push(out, e->cp);
            if (*st == SDC_OK)
                *st = sdc_u32_append(out, s + 1 + x, len - 1 - x);
            return len;
        }
    }
    *st = sdc_u32_append(out, s, len);
    return len;
}

sdc_status sdc_html_unescape(const int32_t *in, size_t n, sdc_u32 *out)
{
    sdc_status st = SDC_OK;
    size_t i = 0;
    while (i < n && st == SDC_OK) {
        size_t used = 0;
        if (in[i] == '&' && i + 1 < n && in[i + 1] == '#') {
            int32_t v;
            used = numeric_ref(in + i, n - i, &v);
            if (used)
                st = push_numeric(v, out);
        } else if (in[i] == '&') {
            used = named_ref(in + i, n - i, out, &st);
        }
        if (used == 0) {
            st = sdc_u32_push(out, in[i]);
            used = 1;
        }
        i += used;
    }
    return st;
}

static bool is_ascii_alnum(int32_t c)
{
    return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Python's str.upper() of one of the table's characters. */
static sdc_status push_upper(int32_t c, sdc_u32 *out)
{
    if (c == 0xDF) { /* sharp s has no single upper-case letter */
        sdc_status st = sdc_u32_push(out, 'S');
        return st ? st : sdc_u32_push(out, 'S');
    }
    return sdc_u32_push(out, utf8proc_toupper(c));
}

/* ftfy also decodes "&NAME;" written in capitals when "&name;" is a lower-case entity and
 * "&NAME;" means nothing to html.unescape. Returns false when that does not apply. */
static bool ftfy_upper_entity(const char *name, size_t len, sdc_u32 *out, sdc_status *st)
{
    char lower[25];
    for (size_t i = 0; i < len; i++) {
        if (name[i] >= 'a' && name[i] <= 'z')
            return false;
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    }
    const sdc_html_entity *e = entity_find(lower, len);
    if (!e)
        return false;
    for (size_t x = len; x >= 2; x--) {
        const sdc_html_entity *p = entity_find(name, x);
        if (p && p->legacy)
            return false;
    }
    *st = push_upper(e->cp, out);
    return true;
}

/* One "&#?[0-9A-Za-z]{1,24};" match at s[0] decoded the ftfy way; returns its length. */
static size_t ftfy_ref(const int32_t *s, size_t n, sdc_u32 *out, sdc_status *st)
{
    bool hash = n > 1 && s[1] == '#';
    size_t j = 1 + hash, a = 0;
    while (j + a < n && is_ascii_alnum(s[j + a]))
        a++;
    if (a < 1 || a > 24 || j + a >= n || s[j + a] != ';')
        return 0;
    size_t len = j + a + 1;
    if (hash) {
        /* Only accepted when Python decodes the whole reference, semicolon included. */
        sdc_u32 tmp = {0};
        *st = sdc_html_unescape(s, len, &tmp);
        bool partial = false;
        for (size_t i = 0; i < tmp.n; i++)
            partial |= tmp.cp[i] == ';';
        if (*st == SDC_OK)
            *st = partial ? sdc_u32_append(out, s, len) : sdc_u32_append(out, tmp.cp, tmp.n);
        sdc_u32_free(&tmp);
        return len;
    }
    char name[25];
    for (size_t i = 0; i < a; i++)
        name[i] = (char)s[1 + i];
    const sdc_html_entity *e = entity_find(name, a);
    if (e)
        *st = sdc_u32_push(out, e->cp);
    else if (!ftfy_upper_entity(name, a, out, st))
        *st = sdc_u32_append(out, s, len);
    return len;
}

sdc_status sdc_html_unescape_ftfy(const int32_t *in, size_t n, sdc_u32 *out)
{
    sdc_status st = SDC_OK;
    size_t i = 0;
    while (i < n && st == SDC_OK) {
        size_t used = in[i] == '&' ? ftfy_ref(in + i, n - i, out, &st) : 0;
        if (used == 0) {
            st = sdc_u32_push(out, in[i]);
            used = 1;
        }
        i += used;
    }
    return st;
}
