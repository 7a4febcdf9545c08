/* ftfy.fix_text with its default configuration (see tokenizer_clean.h for what is and is
 * not reproduced). Every fixer maps a code point buffer to a new one, in ftfy's order. */
#include <stdbool.h>
#include <stdlib.h>
#include <utf8proc.h>

#include "clip/tokenizer_clean.h"
#include "clip/tokenizer_html.h"
#include "ops/error.h"

/* ftfy splits its input into lines of at most this many code points. */
#define FTFY_MAX_DECODE_LENGTH 1000000
/* fix_and_explain repeats its fixers until the text is stable; in practice that takes two
 * or three rounds, the cap only guards against a fixer that never settles. */
#define FTFY_MAX_ROUNDS 64

typedef sdc_status (*fixer_fn)(const int32_t *in, size_t n, sdc_u32 *out);

/* fix_c1_controls: U+0080..U+009F read as the Windows-1252 bytes they probably were. */
static sdc_status fix_c1_controls(const int32_t *in, size_t n, sdc_u32 *out)
{
    sdc_status st = SDC_OK;
    for (size_t i = 0; i < n && !st; i++)
        st = sdc_u32_push(out, in[i] >= 0x80 && in[i] <= 0x9F ? sdc_cp1252_c1(in[i]) : in[i]);
    return st;
}

/* The expansion ftfy gives a Latin ligature or legacy digraph, or NULL. */
static const char *ligature(int32_t c)
{
    switch (c) {
    case 0x0132: return "IJ";
    case 0x0133: return "ij";
    case 0x0149: return "\xCA\xBCn"; /* U+02BC n, later uncurled to 'n */
    case 0x01C4: return "D\xC5\xBD";
    case 0x01C5: return "D\xC5\xBE";
    case 0x01C6: return "d\xC5\xBE";
    case 0x01C7: return "LJ";
    case 0x01C8: return "Lj";
    case 0x01C9: return "lj";
    case 0x01CA: return "NJ";
    case 0x01CB: return "Nj";
    case 0x01CC: return "nj";
    case 0x01F1: return "DZ";
    case 0x01F2: return "Dz";
    case 0x01F3: return "dz";
    case 0xFB00: return "ff";
    case 0xFB01: return "fi";
    case 0xFB02: return "fl";
    case 0xFB03: return "ffi";
    case 0xFB04: return "ffl";
    case 0xFB05: return "\xC5\xBFt"; /* long s, t */
    case 0xFB06: return "st";
    default: return NULL;
    }
}

static sdc_status fix_latin_ligatures(const int32_t *in, size_t n, sdc_u32 *out)
{
    sdc_status st = SDC_OK;
    for (size_t i = 0; i < n && !st; i++) {
        const char *lig = ligature(in[i]);
        st = lig ? sdc_u32_append_utf8(out, lig) : sdc_u32_push(out, in[i]);
    }
    return st;
}

/* NFKC of one half-/full-width form (U+FF01..U+FFEF), appended to out. */
static sdc_status push_nfkc(int32_t c, sdc_u32 *out)
{
    char utf8[4];
    size_t len = sdc_utf8_put(c, utf8);
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)utf8, (utf8proc_ssize_t)len,
                                      &mapped, UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                                   UTF8PROC_COMPAT);
    if (m < 0)
        return sdc_u32_push(out, c);
    sdc_status st = sdc_utf8_decode((const char *)mapped, (size_t)m, "NFKC", out);
    free(mapped);
    return st;
}

/* fix_character_width: full-width ASCII and half-width kana/hangul to their usual forms,
 * and the ideographic space to a space. */
static sdc_status fix_character_width(const int32_t *in, size_t n, sdc_u32 *out)
{
    sdc_status st = SDC_OK;
    for (size_t i = 0; i < n && !st; i++) {
        if (in[i] == 0x3000)
            st = sdc_u32_push(out, ' ');
        else if (in[i] >= 0xFF01 && in[i] <= 0xFFEF)
            st = push_nfkc(in[i], out);
        else
            st = sdc_u32_push(out, in[i]);
    }
    return st;
}

static sdc_status uncurl_quotes(const int32_t *in, size_t n, sdc_u32 *out)
{
    sdc_status st = SDC_OK;
    for (size_t i = 0; i < n && !st; i++) {
        int32_t c = in[i];
        if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B))
            c = '\'';
        else if (c >= 0x201C && c <= 0x201F)
            c = '"';
        st = sdc_u32_push(out, c);
    }
    return st;
}

/* fix_line_breaks: CR LF, CR, U+2028, U+2029 and U+0085 all become LF. */
static sdc_status fix_line_breaks(const int32_t *in, size_t n, sdc_u32 *out)
{
    sdc_status st = SDC_OK;
    for (size_t i = 0; i < n && !st; i++) {
        int32_t c = in[i];
        if (c == '\r' && i + 1 < n && in[i + 1] == '\n')
            i++;
        if (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85)
            c = '\n';
        st = sdc_u32_push(out, c);
    }
    return st;
}

/* Length of an ANSI escape "ESC [ (digit|;)* letter" at s[0], or 0. */
static size_t ansi_escape(const int32_t *s, size_t n)
{
    if (n < 3 || s[0] != 0x1B || s[1] != '[')
        return 0;
    size_t j = 2;
    while (j < n && (s[j] == ';' || sdc_uc_digit_value(s[j]) >= 0))
        j++;
    if (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z')))
        return j + 1;
    return 0;
}

static sdc_status remove_terminal_escapes(const int32_t *in, size_t n, sdc_u32 *out)
{
    sdc_status st = SDC_OK;
    for (size_t i = 0; i < n && !st;) {
        size_t skip = ansi_escape(in + i, n - i);
        if (skip) {
            i += skip;
            continue;
        }
        st = sdc_u32_push(out, in[i++]);
    }
    return st;
}

/* The controls ftfy deletes; the whitespace controls (tab, LF, FF, CR) are kept. */
static bool unwanted_control(int32_t c)
{
    return (c >= 0x00 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
           (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

static sdc_status remove_control_chars(const int32_t *in, size_t n, sdc_u32 *out)
{
    sdc_status st = SDC_OK;
    for (size_t i = 0; i < n && !st; i++)
        if (!unwanted_control(in[i]))
            st = sdc_u32_push(out, in[i]);
    return st;
}

sdc_status sdc_text_nfc(sdc_u32 *b)
{
    char *utf8;
    size_t len;
    sdc_status st = sdc_utf8_encode(b->cp, b->n, &utf8, &len);
    if (st)
        return st;
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)utf8, (utf8proc_ssize_t)len,
                                      &mapped, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    free(utf8);
    if (m < 0)
        return sdc_fail(SDC_ERR_ARG, "prompt: NFC normalisation failed: %s",
                        utf8proc_errmsg(m));
    b->n = 0;
    st = sdc_utf8_decode((const char *)mapped, (size_t)m, "NFC", b);
    free(mapped);
    return st;
}

/* One round of fix_and_explain over seg: every fixer in ftfy's order, then NFC. */
static sdc_status fix_round(sdc_u32 *seg, bool unescape)
{
    static const fixer_fn fixers[] = {
        fix_c1_controls, fix_latin_ligatures,     fix_character_width, uncurl_quotes,
        fix_line_breaks, remove_terminal_escapes, remove_control_chars,
    };
    sdc_u32 next = {0};
    sdc_status st = SDC_OK;
    if (unescape) {
        st = sdc_html_unescape_ftfy(seg->cp, seg->n, &next);
        if (!st)
            sdc_u32_move(seg, &next);
    }
    for (size_t f = 0; f < sizeof fixers / sizeof *fixers && !st; f++) {
        next.n = 0;
        st = fixers[f](seg->cp, seg->n, &next);
        if (!st)
            sdc_u32_move(seg, &next);
    }
    sdc_u32_free(&next);
    return st ? st : sdc_text_nfc(seg);
}

static bool contains(const int32_t *s, size_t n, int32_t c)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == c)
            return true;
    return false;
}

/* fix_and_explain on one segment: rounds until the text stops changing. */
static sdc_status fix_segment(const int32_t *s, size_t n, bool unescape, sdc_u32 *out)
{
    sdc_u32 seg = {0}, prev = {0};
    sdc_status st = sdc_u32_append(&seg, s, n);
    for (int round = 0; round < FTFY_MAX_ROUNDS && !st; round++) {
        prev.n = 0;
        st = sdc_u32_append(&prev, seg.cp, seg.n);
        if (!st)
            st = fix_round(&seg, unescape);
        if (!st && sdc_u32_equal(&seg, &prev))
            break;
    }
    if (!st)
        st = sdc_u32_append(out, seg.cp, seg.n);
    sdc_u32_free(&seg);
    sdc_u32_free(&prev);
    return st;
}

sdc_status sdc_ftfy_fix_text(const sdc_u32 *in, sdc_u32 *out)
{
    out->n = 0;
    /* HTML unescaping is "auto": once a segment holds a literal '<' the text is taken for
     * HTML source and entities are left alone from there on. */
    bool unescape = true;
    sdc_status st = SDC_OK;
    size_t pos = 0;
    while (pos < in->n && !st) {
        size_t end = pos;
        while (end < in->n && in->cp[end] != '\n')
            end++;
        end = end < in->n ? end + 1 : end;
        if (end - pos > FTFY_MAX_DECODE_LENGTH)
            end = pos + FTFY_MAX_DECODE_LENGTH;
        if (unescape && contains(in->cp + pos, end - pos, '<'))
            unescape = false;
        st = fix_segment(in->cp + pos, end - pos, unescape, out);
        pos = end;
    }
    return st;
}
