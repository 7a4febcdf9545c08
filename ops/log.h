/* Internal side of sdc_set_log: warnings and information for the caller's handler. */
#ifndef SDC_OPS_LOG_H
#define SDC_OPS_LOG_H

#include "sdc.h"

void sdc_log(sdc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
