/* Output file names of `sdc batch` from a template such as "{index:05}-{prompt:32}.png".
 *
 * Fields: {index} the job's number in the file (0-based, bad lines counted, so names do not
 * move when a line is fixed), {image} the image's number within the job (0 .. batch-count-1),
 * {seed}, {prompt} (a slug: lower-case letters and digits joined by '-'), {model} (the
 * checkpoint's base name). Numbers take a zero-padded width ({index:05}); text fields take a
 * maximum length ({prompt:20}). "{{" and "}}" stand for literal braces. */
#ifndef SDC_CMD_BATCH_TEMPLATE_H
#define SDC_CMD_BATCH_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "sdc.h"

#define SDC_BATCH_DEFAULT_TEMPLATE "{index:05}-{seed}.png"

typedef struct sdc_batch_name_fields {
    int index;
    int image;
    uint64_t seed;
    const char *prompt;
    const char *model; /* path; its base name without extension is used */
} sdc_batch_name_fields;

/* Expands `tmpl` into *out (malloc'd). Fails (SDC_ERR_ARG, message naming the template) on an
 * unknown field, a bad width or an unbalanced brace. */
sdc_status sdc_batch_name_expand(const char *tmpl, const sdc_batch_name_fields *fields,
                                 char **out);

/* Writes at most `max` characters (0 = no limit) of the slug of `text` into out, which holds
 * `size` bytes: "A red fox, (detailed:1.2)" -> "a-red-fox-detailed-1-2". */
void sdc_batch_slug(const char *text, size_t max, char *out, size_t size);

/* Base name of a model path without its extension ("/m/v1-5.safetensors" -> "v1-5"). */
void sdc_batch_model_name(const char *path, char *out, size_t size);

#endif
