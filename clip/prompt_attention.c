/* parse_prompt_attention (prompt_attention.h). The reference tokenizes the prompt with
 *
 *   \\\( | \\\) | \\\[ | \\] | \\\\ | \\ | \( | \[ | :\s*([+-]?[.\d]+)\s*\) | \) | ] |
 *   [^\\()\[\]:]+ | :
 *
 * and keeps a stack of open round and square brackets (positions in the run list). All
 * delimiters are ASCII, so the scan walks UTF-8 bytes and decodes only where Unicode
 * classes matter (\s, \d, and the \b around BREAK). */
#include "clip/prompt_attention.h"

#include <locale.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "clip/tokenizer_text.h"
#include "ops/error.h"

#define ROUND_MULTIPLIER 1.1
#define SQUARE_MULTIPLIER (1.0 / 1.1)

typedef struct run_buf {
    char *text;
    size_t len, cap;
    double weight;
} run_buf;

typedef struct parser {
    const char *s;
    size_t n;
    run_buf *res;
    size_t count, cap;
    size_t round[SDC_PROMPT_MAX_NESTING], n_round;
    size_t square[SDC_PROMPT_MAX_NESTING], n_square;
} parser;

/* ---- run list ------------------------------------------------------------------------ */

static sdc_status text_append(run_buf *r, const char *text, size_t len)
{
    if (r->len + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 16;
        while (cap < r->len + len + 1)
            cap *= 2;
        char *t = realloc(r->text, cap);
        if (!t)
            return sdc_fail(SDC_ERR_NOMEM, "out of memory parsing the prompt");
        r->text = t;
        r->cap = cap;
    }
    memcpy(r->text + r->len, text, len);
    r->len += len;
    r->text[r->len] = '\0';
    return SDC_OK;
}

static sdc_status res_append(parser *p, const char *text, size_t len, double weight)
{
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        run_buf *res = realloc(p->res, cap * sizeof *res);
        if (!res)
            return sdc_fail(SDC_ERR_NOMEM, "out of memory parsing the prompt");
        p->res = res;
        p->cap = cap;
    }
    run_buf *r = &p->res[p->count++];
    *r = (run_buf){NULL, 0, 0, weight};
    return text_append(r, text, len);
}

static void multiply_range(parser *p, size_t start, double multiplier)
{
    for (size_t i = start; i < p->count; i++)
        p->res[i].weight *= multiplier;
}

/* ---- UTF-8 and character classes ----------------------------------------------------- */

/* Code point at s[i] (the prompt was validated) and its length. */
static int32_t cp_at(const char *s, size_t n, size_t i, size_t *len)
{
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                          (utf8proc_ssize_t)(n - i), &c);
    *len = k > 0 ? (size_t)k : 1;
    return c;
}

/* Code point ending just before s[i] (i > 0). */
static int32_t cp_before(const char *s, size_t n, size_t i)
{
    size_t j = i - 1, len;
    while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80)
        j--;
    return cp_at(s, n, j, &len);
}

static size_t skip_space(const char *s, size_t n, size_t j)
{
    size_t len;
    while (j < n && sdc_uc_isspace(cp_at(s, n, j, &len)))
        j += len;
    return j;
}

/* ---- BREAK --------------------------------------------------------------------------- */

/* "BREAK" at t with a word boundary on both sides (\bBREAK\b within s[0..n)). */
static bool break_at(const char *s, size_t n, size_t t)
{
    size_t len;
    if (n - t < 5 || memcmp(s + t, "BREAK", 5) != 0)
        return false;
    if (t > 0 && sdc_uc_isword(cp_before(s, n, t)))
        return false;
    return t + 5 == n || !sdc_uc_isword(cp_at(s, n, t + 5, &len));
}

/* Leftmost match of \s*\bBREAK\b\s* in s[from..n): sets [*ms, *me); false if none. A
 * start inside a whitespace run fails exactly when the run's start fails, so a failed
 * candidate skips its whole run. */
static bool find_break(const char *s, size_t n, size_t from, size_t *ms, size_t *me)
{
    for (size_t start = from; start < n;) {
        size_t t = skip_space(s, n, start);
        if (break_at(s, n, t)) {
            *ms = start;
            *me = skip_space(s, n, t + 5);
            return true;
        }
        size_t len;
        start = t < n ? t + (cp_at(s, n, t, &len), len) : n;
    }
    return false;
}

/* Plain text: re.split on BREAK, each separator becoming the run ("BREAK", -1). */
static sdc_status append_text(parser *p, const char *text, size_t len)
{
    size_t from = 0, ms, me;
    sdc_status st = SDC_OK;
    while (!st && find_break(text, len, from, &ms, &me)) {
        st = res_append(p, text + from, ms - from, 1.0);
        if (!st)
            st = res_append(p, SDC_PROMPT_BREAK_TEXT, 5, SDC_PROMPT_BREAK_WEIGHT);
        from = me;
    }
    return st ? st : res_append(p, text + from, len - from, 1.0);
}

/* ---- weights ------------------------------------------------------------------------- */

/* Length of ":\s*([+-]?[.\d]+)\s*\)" at s[pos] (0: no match); the number's bytes go to
 * [*num, *num_end). */
static size_t weight_match(const char *s, size_t n, size_t pos, size_t *num, size_t *num_end)
{
    size_t j = skip_space(s, n, pos + 1), len, digits = 0;
    *num = j;
    if (j < n && (s[j] == '+' || s[j] == '-'))
        j++;
    while (j < n) {
        int32_t c = cp_at(s, n, j, &len);
        if (c != '.' && sdc_uc_digit_value(c) < 0)
            break;
        j += len;
        digits++;
    }
    if (digits == 0)
        return 0;
    *num_end = j;
    j = skip_space(s, n, j);
    return j < n && s[j] == ')' ? j + 1 - pos : 0;
}

/* Python float() of a [+-]?[.\d]+ string (any decimal digits, always '.' as the point). */
static sdc_status parse_weight(const char *s, size_t n, double *out)
{
    char *ascii = malloc(n + 1);
    if (!ascii)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory parsing a weight");
    size_t k = 0, len;
    for (size_t j = 0; j < n; j += len) {
        int32_t c = cp_at(s, n, j, &len);
        int d = sdc_uc_digit_value(c);
        ascii[k++] = d >= 0 ? (char)('0' + d) : (char)c;
    }
    ascii[k] = '\0';
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    char *end = ascii;
    if (c_locale) {
        *out = strtod_l(ascii, &end, c_locale);
        freelocale(c_locale);
    }
    bool ok = c_locale && k > 0 && *end == '\0';
    free(ascii);
    if (!ok)
        return sdc_fail(SDC_ERR_ARG, "prompt: emphasis weight '%.*s' is not a number",
                        (int)(n < 64 ? n : 64), s);
    return SDC_OK;
}

/* ---- the scan ------------------------------------------------------------------------ */

static sdc_status push_bracket(size_t *stack, size_t *depth, size_t position)
{
    if (*depth == SDC_PROMPT_MAX_NESTING)
        return sdc_fail(SDC_ERR_ARG, "prompt: more than %d brackets open at once",
                        SDC_PROMPT_MAX_NESTING);
    stack[(*depth)++] = position;
    return SDC_OK;
}

static bool special(char c)
{
    return c == '\\' || c == '(' || c == ')' || c == '[' || c == ']' || c == ':';
}

/* A backslash: an escaped bracket or backslash stands for itself, a lone one vanishes. */
static sdc_status escape(parser *p, size_t pos, size_t *used)
{
    char next = pos + 1 < p->n ? p->s[pos + 1] : '\0';
    if (next == '(' || next == ')' || next == '[' || next == ']' || next == '\\') {
        *used = 2;
        return res_append(p, p->s + pos + 1, 1, 1.0);
    }
    *used = 1;
    return res_append(p, "", 0, 1.0);
}

/* ':' either closes "(text:w)" or is text. */
static sdc_status colon(parser *p, size_t pos, size_t *used)
{
    size_t num, num_end;
    *used = weight_match(p->s, p->n, pos, &num, &num_end);
    if (*used && p->n_round) {
        double w = 0.0;
        sdc_status st = parse_weight(p->s + num, num_end - num, &w);
        if (!st)
            multiply_range(p, p->round[--p->n_round], w);
        return st;
    }
    if (*used == 0)
        *used = 1;
    return append_text(p, p->s + pos, *used);
}

static sdc_status step(parser *p, size_t pos, size_t *used)
{
    char c = p->s[pos];
    *used = 1;
    switch (c) {
    case '\\': return escape(p, pos, used);
    case '(': return push_bracket(p->round, &p->n_round, p->count);
    case '[': return push_bracket(p->square, &p->n_square, p->count);
    case ':': return colon(p, pos, used);
    case ')':
        if (!p->n_round)
            return append_text(p, ")", 1);
        multiply_range(p, p->round[--p->n_round], ROUND_MULTIPLIER);
        return SDC_OK;
    case ']':
        if (!p->n_square)
            return append_text(p, "]", 1);
        multiply_range(p, p->square[--p->n_square], SQUARE_MULTIPLIER);
        return SDC_OK;
    default:
        while (pos + *used < p->n && !special(p->s[pos + *used]))
            (*used)++;
        return append_text(p, p->s + pos, *used);
    }
}

/* Brackets still open apply to the end: round ones first, each stack bottom-up. */
static void close_open_brackets(parser *p)
{
    for (size_t i = 0; i < p->n_round; i++)
        multiply_range(p, p->round[i], ROUND_MULTIPLIER);
    for (size_t i = 0; i < p->n_square; i++)
        multiply_range(p, p->square[i], SQUARE_MULTIPLIER);
}

/* Merges neighbours of equal weight into the first of them. */
static sdc_status merge_equal(parser *p)
{
    size_t w = 0;
    for (size_t i = 1; i < p->count; i++) {
        run_buf *last = &p->res[w];
        if (p->res[i].weight == last->weight) {
            sdc_status st = text_append(last, p->res[i].text, p->res[i].len);
            free(p->res[i].text);
            p->res[i].text = NULL;
            if (st)
                return st;
        } else if (++w != i) {
            p->res[w] = p->res[i];
            p->res[i].text = NULL;
        }
    }
    if (p->count)
        p->count = w + 1;
    return SDC_OK;
}

static void parser_free(parser *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->res[i].text);
    free(p->res);
    free(p);
}

static sdc_status run(parser *p)
{
    sdc_status st = SDC_OK;
    for (size_t pos = 0, used = 0; pos < p->n && !st; pos += used)
        st = step(p, pos, &used);
    if (st)
        return st;
    close_open_brackets(p);
    if (p->count == 0 && (st = res_append(p, "", 0, 1.0)))
        return st;
    return merge_equal(p);
}

sdc_status sdc_prompt_parse_attention(const char *prompt, sdc_prompt_run **runs,
                                      size_t *count)
{
    *runs = NULL;
    *count = 0;
    if (!prompt)
        return sdc_fail(SDC_ERR_ARG, "prompt: NULL text");
    size_t n = strlen(prompt), bad;
    if (n > SDC_PROMPT_MAX_BYTES)
        return sdc_fail(SDC_ERR_ARG, "prompt: %zu bytes, more than the %u MiB accepted", n,
                        SDC_PROMPT_MAX_BYTES >> 20);
    if (!sdc_utf8_valid(prompt, n, &bad))
        return sdc_fail(SDC_ERR_ARG, "prompt: invalid UTF-8 at byte %zu", bad);
    parser *p = calloc(1, sizeof *p);
    if (!p)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory parsing the prompt");
    p->s = prompt;
    p->n = n;
    sdc_status st = run(p);
    sdc_prompt_run *out = st ? NULL : malloc(p->count * sizeof *out);
    if (!st && !out)
        st = sdc_fail(SDC_ERR_NOMEM, "out of memory parsing the prompt");
    if (st) {
        parser_free(p);
        return st;
    }
    for (size_t i = 0; i < p->count; i++) {
        out[i] = (sdc_prompt_run){p->res[i].text, p->res[i].weight};
        p->res[i].text = NULL;
    }
    *runs = out;
    *count = p->count;
    parser_free(p);
    return SDC_OK;
}

void sdc_prompt_runs_free(sdc_prompt_run *runs, size_t count)
{
    for (size_t i = 0; runs && i < count; i++)
        free(runs[i].text);
    free(runs);
}

int sdc_prompt_run_is_break(const sdc_prompt_run *run)
{
    return strcmp(run->text, SDC_PROMPT_BREAK_TEXT) == 0 &&
           run->weight == SDC_PROMPT_BREAK_WEIGHT;
}
