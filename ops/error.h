/* Internal error reporting: set a message, return a status. */
#ifndef SDC_OPS_ERROR_H
#define SDC_OPS_ERROR_H

#include "sdc.h"

/* Formats the thread's error message and returns `status`, so callers can write
 *   return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' has shape ...", path, name); */
sdc_status sdc_fail(sdc_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with "context: ". */
void sdc_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void sdc_clear_error(void);

#endif
