#include "pipeline/infotext.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"

/* \w of Python's re for str patterns: letters, digits, '_' and every non-ASCII byte (a
 * UTF-8 letter's bytes; close enough for keys). */
static int is_word(unsigned char c) { return isalnum(c) || c == '_' || c >= 0x80; }

static int is_key_char(unsigned char c) { return is_word(c) || c == ' ' || c == '-' || c == '/'; }

/* The JSON string at s (starting at its '"') decoded into a new string; *end after its
 * closing quote. NULL when s holds no whole string. */
static char *json_string(const char *s, const char **end)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    const char *p = s + 1;
    for (; *p && *p != '"'; p++) {
        if (*p != '\\') {
            *o++ = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned v = 0;
            for (int i = 1; i <= 4; i++) {
                if (!isxdigit((unsigned char)p[i])) {
                    free(out);
                    return NULL;
                }
                v = v * 16 + (unsigned)(isdigit((unsigned char)p[i]) ? p[i] - '0'
                                                                     : (tolower(p[i]) - 'a' + 10));
            }
            p += 4;
            if (v < 0x80)
                *o++ = (char)v;
            else if (v < 0x800)
                *o++ = (char)(0xc0 | v >> 6), *o++ = (char)(0x80 | (v & 63));
            else
                *o++ = (char)(0xe0 | v >> 12), *o++ = (char)(0x80 | (v >> 6 & 63)),
                *o++ = (char)(0x80 | (v & 63));
            break;
        }
        case '\0': free(out); return NULL;
        default: *o++ = *p; /* \" \\ \/ */
        }
    }
    if (*p != '"' || p == s + 1) { /* the pattern wants one character at least */
        free(out);
        return NULL;
    }
    *o = '\0';
    *end = p + 1;
    return out;
}

/* One `Key: value` at s (re_param); 0 when none starts there. */
static int match_setting(const char *s, char **key, char **value, const char **end)
{
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    const char *k = p;
    if (!is_word((unsigned char)*p))
        return 0;
    while (is_key_char((unsigned char)*p))
        p++;
    if (*p != ':' || p - k < 2)
        return 0;
    const char *k_end = p++;
    while (isspace((unsigned char)*p))
        p++;
    const char *q = NULL;
    char *v = *p == '"' ? json_string(p, &q) : NULL;
    if (v && *q != ',' && *q != '\0') { /* a quoted value must end the setting */
        free(v);
        v = NULL;
    }
    if (!v) {
        q = p + strcspn(p, ",");
        const char *t = q;
        while (t > p && isspace((unsigned char)t[-1]))
            t--;
        v = strndup(p, (size_t)(t - p));
    }
    *key = strndup(k, (size_t)(k_end - k));
    *value = v;
    *end = *q == ',' ? q + 1 : q;
    return 1;
}

static int add_setting(sdc_infotext *t, char *key, char *value)
{
    char **keys = realloc(t->keys, (t->count + 1) * sizeof *keys);
    if (keys)
        t->keys = keys;
    char **values = keys ? realloc(t->values, (t->count + 1) * sizeof *values) : NULL;
    if (values)
        t->values = values;
    if (!key || !value || !keys || !values) {
        free(key);
        free(value);
        return 0;
    }
    t->keys[t->count] = key;
    t->values[t->count++] = value;
    return 1;
}

/* The settings of line (re.findall: a position where none starts is skipped). */
static int parse_settings(const char *line, sdc_infotext *t)
{
    for (const char *p = line; *p;) {
        char *key, *value;
        const char *end;
        if (!match_setting(p, &key, &value, &end)) {
            p++;
            continue;
        }
        if (!add_setting(t, key, value))
            return 0;
        p = end;
    }
    return 1;
}

/* s with the line appended ("\n" between lines), trimmed. */
static int append_line(char **s, const char *line, size_t n)
{
    while (n && isspace((unsigned char)*line))
        line++, n--;
    while (n && isspace((unsigned char)line[n - 1]))
        n--;
    size_t have = strlen(*s);
    char *grown = realloc(*s, have + n + 2);
    if (!grown)
        return 0;
    if (have)
        grown[have++] = '\n';
    memcpy(grown + have, line, n);
    grown[have + n] = '\0';
    *s = grown;
    return 1;
}

static int parse_text(const char *text, sdc_infotext *t)
{
    /* the last line (after trimming the whole text) with 3+ settings holds them */
    size_t len = strlen(text);
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    while (len && isspace((unsigned char)*text))
        text++, len--;
    const char *last = text + len;
    while (last > text && last[-1] != '\n')
        last--;
    char *line = strndup(last, (size_t)(text + len - last));
    if (!line || !parse_settings(line, t)) {
        free(line);
        return 0;
    }
    free(line);
    size_t body = (size_t)(last - text);
    if (t->count < 3) { /* not a settings line: part of the prompt */
        for (size_t i = 0; i < t->count; i++)
            free(t->keys[i]), free(t->values[i]);
        t->count = 0;
        body = len;
    }
    int negative = 0;
    for (size_t at = 0; at < body;) {
        size_t n = strcspn(text + at, "\n");
        if (n > body - at)
            n = body - at;
        const char *l = text + at;
        size_t skip = 0;
        while (skip < n && isspace((unsigned char)l[skip]))
            skip++;
        if (n - skip >= 16 && strncmp(l + skip, "Negative prompt:", 16) == 0) {
            negative = 1;
            l += skip + 16, n -= skip + 16;
        }
        if (!append_line(negative ? &t->negative : &t->prompt, l, n))
            return 0;
        at += n + (l - (text + at)) + 1;
    }
    return 1;
}

sdc_status sdc_infotext_parse(const char *text, sdc_infotext *out)
{
    memset(out, 0, sizeof *out);
    out->prompt = calloc(1, 1);
    out->negative = calloc(1, 1);
    if (!out->prompt || !out->negative || !parse_text(text, out)) {
        sdc_infotext_free(out);
        return sdc_fail(SDC_ERR_NOMEM, "out of memory reading generation parameters");
    }
    return SDC_OK;
}

const char *sdc_infotext_get(const sdc_infotext *t, const char *key)
{
    for (size_t i = t->count; i-- > 0;)
        if (strcmp(t->keys[i], key) == 0)
            return t->values[i];
    return NULL;
}

void sdc_infotext_free(sdc_infotext *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->keys[i]), free(t->values[i]);
    free(t->keys);
    free(t->values);
    free(t->prompt);
    free(t->negative);
    memset(t, 0, sizeof *t);
}
