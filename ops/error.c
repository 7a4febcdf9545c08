#include "ops/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char sdc_error_message[1024];

const char *sdc_last_error(void) { return sdc_error_message; }

void sdc_clear_error(void) { sdc_error_message[0] = '\0'; }

/* Bytes [*i, ...) of s that a terminal acts on: 1 or 2 (a UTF-8 C1 control), else 0. */
static int control_len(const unsigned char *s, int keep_newlines)
{
    if (s[0] == '\t' || (keep_newlines && s[0] == '\n'))
        return 0;
    if (s[0] < 0x20 || s[0] == 0x7f)
        return 1;
    return s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f ? 2 : 0;
}

char *sdc_escape_controls(const char *in, char *out, size_t size, int keep_newlines)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t n = 0;
    while (*p && n + 1 < size) {
        int c = control_len(p, keep_newlines);
        if (c == 0) {
            out[n++] = (char)*p++;
            continue;
        }
        if (n + 4 * (size_t)c >= size)
            break;
        for (int k = 0; k < c; k++, n += 4)
            snprintf(out + n, 5, "\\x%02x", *p++);
    }
    if (size)
        out[n] = '\0';
    return out;
}

void sdc_fputs_escaped(const char *s, FILE *f, int keep_newlines)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int c = control_len(p, keep_newlines);
        if (c == 0)
            fputc(*p++, f);
        for (int k = 0; k < c; k++)
            fprintf(f, "\\x%02x", *p++);
    }
}

/* Messages hold file names, tensor names, prompts: one line, nothing a terminal acts on. */
static void escape_message(void)
{
    char raw[sizeof sdc_error_message];
    memcpy(raw, sdc_error_message, sizeof raw);
    sdc_escape_controls(raw, sdc_error_message, sizeof sdc_error_message, 0);
}

sdc_status sdc_fail(sdc_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sdc_error_message, sizeof sdc_error_message, fmt, ap);
    va_end(ap);
    escape_message();
    return status;
}

void sdc_error_prefix(const char *fmt, ...)
{
    char prefix[512], old[sizeof sdc_error_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, sdc_error_message, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof sdc_error_message - 3)
        n = sizeof sdc_error_message - 3;
    memcpy(sdc_error_message, prefix, n);
    memcpy(sdc_error_message + n, ": ", 2);
    size_t rest = sizeof sdc_error_message - n - 3;
    size_t m = strnlen(old, rest);
    memcpy(sdc_error_message + n + 2, old, m);
    sdc_error_message[n + 2 + m] = '\0';
    escape_message();
}

const char *sdc_status_name(sdc_status status)
{
    switch (status) {
    case SDC_OK: return "ok";
    case SDC_ERR_IO: return "i/o error";
    case SDC_ERR_FORMAT: return "bad format";
    case SDC_ERR_UNSUPPORTED: return "unsupported";
    case SDC_ERR_ARG: return "bad argument";
    case SDC_ERR_NOMEM: return "out of memory";
    case SDC_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}
