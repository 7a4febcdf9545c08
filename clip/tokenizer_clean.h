/* Text cleanup of OpenAI's CLIP tokenizer (internal), reproduced on code points:
 *
 *   whitespace_clean(basic_clean(text)).lower()
 *   basic_clean      = ftfy.fix_text, html.unescape twice, strip
 *   whitespace_clean = every run of \s becomes one space, strip
 *
 * ftfy.fix_text runs with its defaults (ftfy 6.3): HTML entities (unless the text has a
 * '<'), C1 controls as Windows-1252, Latin ligatures, full-width forms, curly quotes, line
 * breaks, terminal escapes, control characters, NFC; repeated until nothing changes.
 * Not reproduced: ftfy's mojibake repair (fix_encoding), a heuristic that only acts on
 * text that already looks mis-decoded, such as "cafÃ©". */
#ifndef SDC_CLIP_TOKENIZER_CLEAN_H
#define SDC_CLIP_TOKENIZER_CLEAN_H

#include "clip/tokenizer_text.h"

/* ftfy.fix_text(in) as described above; out is replaced. */
sdc_status sdc_ftfy_fix_text(const sdc_u32 *in, sdc_u32 *out);
/* NFC normalisation of b, in place. */
sdc_status sdc_text_nfc(sdc_u32 *b);
/* Python str.lower() of in (full mappings, final sigma); out is replaced. */
sdc_status sdc_text_lower(const sdc_u32 *in, sdc_u32 *out);
/* The whole cleanup above; out is replaced. */
sdc_status sdc_clip_clean(const sdc_u32 *in, sdc_u32 *out);

#endif
