/* sdc: Stable Diffusion in C — public API.
 *
 * Every fallible function returns an sdc_status; on failure a one-line message naming the
 * file, tensor or argument at fault is available from sdc_last_error() (per thread). */
#ifndef SDC_H
#define SDC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SDC_VERSION "0.1.0"

typedef enum sdc_status {
    SDC_OK = 0,
    SDC_ERR_IO,          /* a file could not be opened, read, mapped or written */
    SDC_ERR_FORMAT,      /* a file's content is malformed or inconsistent */
    SDC_ERR_UNSUPPORTED, /* well-formed but not something sdc handles (yet) */
    SDC_ERR_ARG,         /* a bad argument or parameter */
    SDC_ERR_NOMEM,       /* an allocation failed */
    SDC_ERR_INTERRUPTED, /* stopped by the abort callback or a signal */
} sdc_status;

/* The message of the last error on this thread ("" when none). */
const char *sdc_last_error(void);
/* Human name of a status code ("ok", "i/o error", ...). */
const char *sdc_status_name(sdc_status status);

#ifdef __cplusplus
}
#endif

#endif
