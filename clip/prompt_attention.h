/* AUTOMATIC1111's emphasis syntax: a prompt becomes runs of (text, weight).
 *
 *   (text)     weight x 1.1          [text]     weight / 1.1
 *   (text:w)   weight x w            \( \) \[ \] \\   literal characters
 *   BREAK      (as a whole word) its own run ("BREAK", -1): ends a 75-token chunk
 *
 * Nesting multiplies (float64, in the reference's evaluation order), brackets left open
 * apply to the end of the prompt, unmatched closers are text, adjacent runs of equal
 * weight are merged, and an empty prompt is one run ("", 1). Same result as
 * parse_prompt_attention in modules/prompt_parser.py. */
#ifndef SDC_CLIP_PROMPT_ATTENTION_H
#define SDC_CLIP_PROMPT_ATTENTION_H

#include <stddef.h>

#include "sdc.h"

#define SDC_PROMPT_BREAK_TEXT "BREAK"
#define SDC_PROMPT_BREAK_WEIGHT (-1.0)
/* Brackets open at once beyond which a prompt is refused (keeps the work linear). */
#define SDC_PROMPT_MAX_NESTING 256

typedef struct sdc_prompt_run {
    char *text; /* UTF-8, NUL-terminated */
    double weight;
} sdc_prompt_run;

/* Parses prompt (UTF-8) into *runs (malloc'd, free with sdc_prompt_runs_free). Errors
 * (SDC_ERR_ARG): invalid UTF-8, a weight that is not a number such as "(x:1.2.3)" (where
 * the reference raises), brackets nested deeper than SDC_PROMPT_MAX_NESTING. */
sdc_status sdc_prompt_parse_attention(const char *prompt, sdc_prompt_run **runs,
                                      size_t *count);
void sdc_prompt_runs_free(sdc_prompt_run *runs, size_t count);

/* Whether a run is a chunk break (text "BREAK", weight exactly -1). */
int sdc_prompt_run_is_break(const sdc_prompt_run *run);

#endif
