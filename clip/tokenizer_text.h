/* Text plumbing of the CLIP tokenizer (internal): growable code point buffers, strict
 * UTF-8 decoding / encoding, and the Unicode predicates that Python's str methods and regex
 * classes use in the reference tokenizer. Character properties come from utf8proc. */
#ifndef SDC_CLIP_TOKENIZER_TEXT_H
#define SDC_CLIP_TOKENIZER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdc.h"

/* Longest prompt accepted, in bytes: bounds every buffer derived from it. */
#define SDC_PROMPT_MAX_BYTES (16u << 20)

/* A growable array of Unicode code points; zero-initialise, free with sdc_u32_free. */
typedef struct sdc_u32 {
    int32_t *cp;
    size_t n, cap;
} sdc_u32;

sdc_status sdc_u32_reserve(sdc_u32 *b, size_t cap);
sdc_status sdc_u32_push(sdc_u32 *b, int32_t c);
sdc_status sdc_u32_append(sdc_u32 *b, const int32_t *cp, size_t n);
/* Appends the code points of the NUL-terminated ASCII/UTF-8 literal s (trusted input). */
sdc_status sdc_u32_append_utf8(sdc_u32 *b, const char *s);
void sdc_u32_free(sdc_u32 *b);
/* Frees *dst and moves src into it (src becomes empty). */
void sdc_u32_move(sdc_u32 *dst, sdc_u32 *src);
bool sdc_u32_equal(const sdc_u32 *a, const sdc_u32 *b);

/* Decodes s[0..len) as strict UTF-8 (no overlong forms, surrogates or values past
 * U+10FFFF) and appends it to out. `what` names the input in the error message. */
sdc_status sdc_utf8_decode(const char *s, size_t len, const char *what, sdc_u32 *out);
/* Whether s[0..len) is strict UTF-8; *bad_at is the offset of the first bad byte. */
bool sdc_utf8_valid(const char *s, size_t len, size_t *bad_at);
/* Writes the UTF-8 form of c to dst, returns its length (1..4). */
size_t sdc_utf8_put(int32_t c, char dst[4]);
/* UTF-8 of cp[0..n) as a malloc'd NUL-terminated string; *len (optional) its length. */
sdc_status sdc_utf8_encode(const int32_t *cp, size_t n, char **out, size_t *len);

/* Python str.isspace(): bidi class WS, B or S, or category Zs (also what re's \s means). */
bool sdc_uc_isspace(int32_t c);
/* \p{L}: categories Lu Ll Lt Lm Lo. */
bool sdc_uc_isletter(int32_t c);
/* \p{N}: categories Nd Nl No. */
bool sdc_uc_isnumber(int32_t c);
/* Python re's \w for str patterns: alphanumeric or '_'. */
bool sdc_uc_isword(int32_t c);
/* Value 0..9 of a decimal digit (category Nd, what Python's \d and float() accept), or -1. */
int sdc_uc_digit_value(int32_t c);

#endif
