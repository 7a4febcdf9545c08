/* Composable prompts (prompt_schedule.h): A1111's get_multicond_prompt_list, i.e.
 *
 *   re_AND    = \bAND\b
 *   re_weight = ^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$
 *
 * The weight's number holds no ':' and only spaces follow it, so the one colon that can
 * start it is a part's last; the lazy text then ends where the spaces before that colon
 * begin. \s, \w and \d are Python's Unicode classes. */
#include <locale.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "clip/prompt_schedule.h"
#include "clip/tokenizer_text.h"
#include "ops/error.h"

/* Code point at s[i] (-1 for a byte that starts no valid sequence) and its length. */
static int32_t cp_at(const char *s, size_t n, size_t i, size_t *len)
{
    utf8proc_int32_t c = -1;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                          (utf8proc_ssize_t)(n - i), &c);
    *len = k > 0 ? (size_t)k : 1;
    return k > 0 ? c : -1;
}

/* Start of the code point ending just before s[i] (i > 0). */
static size_t cp_start_before(const char *s, size_t i)
{
    size_t j = i - 1;
    while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80)
        j--;
    return j;
}

static bool word_before(const char *s, size_t n, size_t i)
{
    size_t len;
    return i > 0 && sdc_uc_isword(cp_at(s, n, cp_start_before(s, i), &len));
}

/* \bAND\b at i. */
static bool and_at(const char *s, size_t n, size_t i)
{
    size_t len;
    if (n - i < 3 || memcmp(s + i, "AND", 3) != 0 || word_before(s, n, i))
        return false;
    return i + 3 == n || !sdc_uc_isword(cp_at(s, n, i + 3, &len));
}

/* End of s[0..n) without its trailing Unicode spaces. */
static size_t trim_end(const char *s, size_t n)
{
    size_t len;
    while (n > 0) {
        size_t j = cp_start_before(s, n);
        if (!sdc_uc_isspace(cp_at(s, n, j, &len)) || j + len != n)
            break;
        n = j;
    }
    return n;
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
    size_t len;
    while (i < n && sdc_uc_isspace(cp_at(s, n, i, &len)))
        i += len;
    return i;
}

/* [-+]?(\d+\.?|\d*\.\d+) filling all of s[i..n): its value, ASCII-fied for strtod. */
static bool weight_number(const char *s, size_t n, size_t i, double *out)
{
    char ascii[128];
    size_t k = 0, len, digits = 0, dots = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        ascii[k++] = s[i++];
    while (i < n && k < sizeof ascii - 1) {
        int d = sdc_uc_digit_value(cp_at(s, n, i, &len));
        if (d >= 0) {
            ascii[k++] = (char)('0' + d);
            digits++;
        } else if (s[i] == '.' && dots == 0) {
            ascii[k++] = '.';
            dots++;
        } else {
            return false;
        }
        i += len;
    }
    /* "5", "5.", "5.5", ".5" match; "." and "" do not */
    if (i < n || digits == 0)
        return false;
    ascii[k] = '\0';
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!c_locale)
        return false;
    *out = strtod_l(ascii, NULL, c_locale);
    freelocale(c_locale);
    return true;
}

/* re_weight on part s[0..n). */
static sdc_status weighted(const char *s, size_t n, sdc_subprompt *out)
{
    size_t text_end = trim_end(s, n);
    double weight = 1.0;
    size_t c = n;
    while (c > 0 && s[c - 1] != ':')
        c--;
    if (c > 0) {
        c--; /* the last colon */
        size_t num = skip_space(s, n, c + 1);
        if (weight_number(s, trim_end(s, n), num, &weight))
            text_end = trim_end(s, c);
        else
            weight = 1.0;
    }
    out->text = malloc(text_end + 1);
    if (!out->text)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory splitting the prompt at AND");
    memcpy(out->text, s, text_end);
    out->text[text_end] = '\0';
    out->weight = weight;
    return SDC_OK;
}

sdc_status sdc_prompt_split_and(const char *prompt, sdc_subprompt **parts, int *count)
{
    const char *s = prompt ? prompt : "";
    size_t n = strlen(s), pieces = 1;
    for (size_t i = 0; i < n; i++)
        if (and_at(s, n, i))
            pieces++, i += 2;
    *parts = NULL;
    *count = 0;
    if (pieces > (size_t)1 << 20)
        return sdc_fail(SDC_ERR_ARG, "prompt: %zu parts joined by AND", pieces);
    sdc_subprompt *out = calloc(pieces, sizeof *out);
    if (!out)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory splitting the prompt at AND");
    size_t from = 0, k = 0;
    sdc_status st = SDC_OK;
    for (size_t i = 0; i <= n && st == SDC_OK; i++) {
        bool at_and = i < n && and_at(s, n, i);
        if (!at_and && i < n)
            continue;
        st = weighted(s + from, i - from, &out[k++]);
        from = i + 3;
        i += 2;
    }
    if (st != SDC_OK) {
        sdc_subprompts_free(out, (int)k);
        return st;
    }
    *parts = out;
    *count = (int)k;
    return SDC_OK;
}

void sdc_subprompts_free(sdc_subprompt *parts, int count)
{
    for (int i = 0; i < count; i++)
        free(parts[i].text);
    free(parts);
}
