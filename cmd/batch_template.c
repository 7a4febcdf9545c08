#include "cmd/batch_template.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"

/* A {prompt} without a width stays well below the 255-byte file name limit. */
#define SLUG_DEFAULT_MAX 48

void sdc_batch_slug(const char *text, size_t max, char *out, size_t size)
{
    if (max == 0 || max > size - 1)
        max = size - 1;
    size_t n = 0;
    int dash = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && n + 2 < size; p++) {
        if (p[0] >= 128 || !isalnum(p[0])) {
            dash = n > 0;
            continue;
        }
        if (dash)
            out[n++] = '-';
        out[n++] = (char)tolower(p[0]);
        dash = 0;
    }
    out[n] = '\0';
    if (n > max) { /* cut after the last word that fits whole, if there is one */
        char next = out[max];
        out[max] = '\0';
        char *last = strrchr(out, '-');
        if (next != '-' && last)
            *last = '\0';
    }
    if (out[0] == '\0')
        snprintf(out, size, "%.*s", (int)max, "prompt");
}

void sdc_batch_model_name(const char *path, char *out, size_t size)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t start = n;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t len = n - start;
    const char *dot = memchr(path + start, '.', len);
    if (dot && dot != path + start)
        len = (size_t)(dot - (path + start));
    snprintf(out, size, "%.*s", (int)len, path + start);
}

/* Parses "name" or "name:spec" between the braces. spec is digits: a zero-padded width for
 * numbers ("05"), a maximum length for text ("20"). */
static sdc_status parse_field(const char *tmpl, const char *s, size_t len, char *name,
                              size_t name_size, int *width, int *zero)
{
    const char *colon = memchr(s, ':', len);
    size_t name_len = colon ? (size_t)(colon - s) : len;
    *width = -1;
    *zero = 0;
    if (name_len == 0 || name_len >= name_size)
        return sdc_fail(SDC_ERR_ARG, "name template '%s': empty or overlong field", tmpl);
    memcpy(name, s, name_len);
    name[name_len] = '\0';
    if (!colon)
        return SDC_OK;
    const char *spec = colon + 1, *end = s + len;
    if (spec == end || end - spec > 3)
        return sdc_fail(SDC_ERR_ARG, "name template '%s': bad width in {%s:...}", tmpl, name);
    *zero = *spec == '0';
    *width = 0;
    for (const char *p = spec; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return sdc_fail(SDC_ERR_ARG, "name template '%s': bad width in {%s:...}", tmpl, name);
        *width = *width * 10 + (*p - '0');
    }
    return SDC_OK;
}

/* Appends the value of one field to f. */
static sdc_status put_field(FILE *f, const char *tmpl, const char *name, int width, int zero,
                            const sdc_batch_name_fields *v)
{
    int is_index = strcmp(name, "index") == 0, is_image = strcmp(name, "image") == 0;
    if (is_index || is_image || strcmp(name, "seed") == 0) {
        if (width > 0 && !zero)
            return sdc_fail(SDC_ERR_ARG, "name template '%s': numbers take a zero-padded "
                            "width such as {%s:05}", tmpl, name);
        unsigned long long n = is_index ? (unsigned long long)v->index
                             : is_image ? (unsigned long long)v->image : v->seed;
        fprintf(f, "%0*llu", width > 0 ? width : 1, n);
        return SDC_OK;
    }
    char text[256];
    if (strcmp(name, "prompt") == 0) {
        sdc_batch_slug(v->prompt ? v->prompt : "", width > 0 ? (size_t)width : SLUG_DEFAULT_MAX,
                       text, sizeof text);
    } else if (strcmp(name, "model") == 0) {
        sdc_batch_model_name(v->model ? v->model : "", text, sizeof text);
        if (width > 0 && (size_t)width < strlen(text))
            text[width] = '\0';
    } else {
        return sdc_fail(SDC_ERR_ARG, "name template '%s': unknown field {%s} (index, image, "
                        "seed, prompt, model)", tmpl, name);
    }
    fputs(text, f);
    return SDC_OK;
}

static sdc_status expand_into(FILE *f, const char *tmpl, const sdc_batch_name_fields *v)
{
    for (const char *p = tmpl; *p; p++) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            fputc(*p++, f);
            continue;
        }
        if (*p == '}')
            return sdc_fail(SDC_ERR_ARG, "name template '%s': unmatched '}'", tmpl);
        if (*p != '{') {
            fputc(*p, f);
            continue;
        }
        const char *close = strchr(p + 1, '}');
        if (!close)
            return sdc_fail(SDC_ERR_ARG, "name template '%s': unmatched '{'", tmpl);
        char name[16];
        int width, zero;
        sdc_status s = parse_field(tmpl, p + 1, (size_t)(close - p - 1), name, sizeof name,
                                   &width, &zero);
        if (s == SDC_OK)
            s = put_field(f, tmpl, name, width, zero, v);
        if (s != SDC_OK)
            return s;
        p = close;
    }
    return SDC_OK;
}

sdc_status sdc_batch_name_expand(const char *tmpl, const sdc_batch_name_fields *fields,
                                 char **out)
{
    size_t size = 0;
    *out = NULL;
    FILE *f = open_memstream(out, &size);
    if (!f)
        return sdc_fail(SDC_ERR_NOMEM, "name template '%s': out of memory", tmpl);
    sdc_status s = expand_into(f, tmpl, fields);
    if (fclose(f) != 0 && s == SDC_OK)
        s = sdc_fail(SDC_ERR_NOMEM, "name template '%s': out of memory", tmpl);
    if (s == SDC_OK && size == 0)
        s = sdc_fail(SDC_ERR_ARG, "name template '%s' gives an empty name", tmpl);
    if (s != SDC_OK) {
        free(*out);
        *out = NULL;
    }
    return s;
}
