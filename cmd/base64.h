/* Base64 (RFC 4648, standard alphabet with padding): how AUTOMATIC1111's API carries
 * pictures in JSON. */
#ifndef SDC_CMD_BASE64_H
#define SDC_CMD_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* data as base64 text, NUL-terminated and malloc'd; NULL when out of memory. */
char *sdc_base64_encode(const uint8_t *data, size_t size);
/* Decodes text (whitespace ignored; a "data:...;base64," prefix as browsers send it is
 * skipped) into *out (malloc'd, *size bytes). Returns 0, or -1 on a character outside the
 * alphabet, misplaced padding, or a length that is not whole. */
int sdc_base64_decode(const char *text, uint8_t **out, size_t *size);

#endif
