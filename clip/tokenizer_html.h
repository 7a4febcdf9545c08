/* HTML character references as the reference tokenizer decodes them (internal):
 * ftfy's conservative unescape_html and Python's html.unescape, which CLIP's
 * basic_clean applies twice after ftfy. Named references are limited to the table in
 * tokenizer_html_entities.c; numeric ones follow Python exactly. */
#ifndef SDC_CLIP_TOKENIZER_HTML_H
#define SDC_CLIP_TOKENIZER_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "clip/tokenizer_text.h"

typedef struct sdc_html_entity {
    const char *name; /* without '&' and ';' */
    int32_t cp;
    int legacy; /* also decoded without the ';' */
} sdc_html_entity;

extern const sdc_html_entity sdc_html_entities[];
extern const size_t sdc_html_entity_count;

/* What Windows-1252 (with undefined bytes kept) makes of bytes 0x80..0x9F. */
int32_t sdc_cp1252_c1(int32_t byte);

/* Python html.unescape(in), appended to out. */
sdc_status sdc_html_unescape(const int32_t *in, size_t n, sdc_u32 *out);
/* ftfy.fixes.unescape_html(in), appended to out. */
sdc_status sdc_html_unescape_ftfy(const int32_t *in, size_t n, sdc_u32 *out);

#endif
