#include "ops/log.h"

#include <stdarg.h>
#include <stdio.h>

/* Set once by the caller before its runs; read by library calls on any thread. */
static sdc_log_fn log_handler;
static void *log_user_data;

void sdc_set_log(sdc_log_fn fn, void *user_data)
{
    log_handler = fn;
    log_user_data = user_data;
}

void sdc_log(sdc_log_level level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (log_handler)
        log_handler(level, line, log_user_data);
    else if (level == SDC_LOG_WARNING)
        fprintf(stderr, "sdc: warning: %s\n", line);
}
