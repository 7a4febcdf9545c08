#include "ops/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char sdc_error_message[1024];

const char *sdc_last_error(void) { return sdc_error_message; }

void sdc_clear_error(void) { sdc_error_message[0] = '\0'; }

sdc_status sdc_fail(sdc_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sdc_error_message, sizeof sdc_error_message, fmt, ap);
    va_end(ap);
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
