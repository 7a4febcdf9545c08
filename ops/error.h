/* Internal error reporting: set a message, return a status. */
#ifndef SDC_OPS_ERROR_H
#define SDC_OPS_ERROR_H

#include <stddef.h>
#include <stdio.h>

#include "sdc.h"

/* Formats the thread's error message and returns `status`, so callers can write
 *   return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' has shape ...", path, name); */
sdc_status sdc_fail(sdc_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with "context: ". */
void sdc_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void sdc_clear_error(void);

/* Copies `in` into out[size] with the bytes a terminal would act on written as \xNN: C0
 * controls (ESC, BEL, CR, ... ; newline and tab kept when keep_newlines), DEL and the UTF-8
 * C1 controls (U+0080..U+009F). Strings from files (PNG text, tensor and file names, job
 * fields) go through it before they are printed; error messages always do. Returns out. */
char *sdc_escape_controls(const char *in, char *out, size_t size, int keep_newlines);
/* fputs of `s` escaped as above, in pieces of any length. */
void sdc_fputs_escaped(const char *s, FILE *f, int keep_newlines);

#endif
