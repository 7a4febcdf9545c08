/* AUTOMATIC1111's prompt editing, alternation and composable prompts (modules/prompt_parser.py,
 * the rules of its releases 1.6 to 1.10), before the emphasis parser sees the text:
 *
 *   [from:to:when]  from until step `when`, then to      [to:when]   added at `when`
 *   [from::when]    removed at `when`                    [a|b|c]     a, b, c, a, ... per step
 *   A :w1 AND B :w2 composable sub-prompts, each with its own schedule and weight
 *
 * A `when` written with a '.' is a fraction of the steps, else a step number; int()
 * truncates and the result is capped at the steps. Emphasis brackets, escapes and stray
 * brackets stay in the text (the emphasis parser reads them later). A prompt the grammar
 * rejects (a '|' outside an alternation, a lone trailing backslash) is one entry holding
 * the prompt unchanged: no prompt is an error. docs/prompts.md shows every form. */
#ifndef SDC_CLIP_PROMPT_SCHEDULE_H
#define SDC_CLIP_PROMPT_SCHEDULE_H

#include "sdc.h"

/* Brackets nested deeper than this make the prompt plain text (keeps the recursion short). */
#define SDC_PROMPT_SCHEDULE_MAX_DEPTH 200
/* A schedule holding more text than this (long prompts times many alternation steps) is
 * refused with SDC_ERR_ARG instead of filling memory. */
#define SDC_PROMPT_SCHEDULE_MAX_BYTES ((size_t)256 << 20)

typedef struct sdc_prompt_step {
    int end_at_step; /* the text applies while the step counter <= end_at_step */
    char *text;      /* owned, NUL-terminated */
} sdc_prompt_step;

typedef struct sdc_prompt_schedule {
    sdc_prompt_step *steps; /* ascending end_at_step; the last one is `steps` */
    int count;
} sdc_prompt_schedule;

/* get_learned_conditioning_prompt_schedules for one prompt over `steps` (>= 1). hires_steps
 * > 0 gives the hires-fix pass's schedule: `steps` are then the first pass's steps, an
 * integer `when` counts on from them and a fraction from 1.0, over hires_steps. Fails only
 * for memory (SDC_ERR_NOMEM, SDC_ERR_ARG past SDC_PROMPT_SCHEDULE_MAX_BYTES). */
sdc_status sdc_prompt_schedule_build(const char *prompt, int steps, int hires_steps,
                                     sdc_prompt_schedule *out);
void sdc_prompt_schedule_free(sdc_prompt_schedule *s);
/* The text at step counter `step` (model calls so far): the first entry with
 * step <= end_at_step, or the first entry when none is (A1111's reconstruct_cond_batch). */
const char *sdc_prompt_schedule_at(const sdc_prompt_schedule *s, int step);
/* The index of that entry (0 for an empty schedule). */
int sdc_prompt_schedule_index(const sdc_prompt_schedule *s, int step);

typedef struct sdc_subprompt {
    char *text; /* owned; leading spaces kept, as A1111 keeps them */
    double weight;
} sdc_subprompt;

/* get_multicond_prompt_list for one prompt: split at the word AND, a trailing ":number"
 * of each part is its weight (default 1). Always at least one part. */
sdc_status sdc_prompt_split_and(const char *prompt, sdc_subprompt **parts, int *count);
void sdc_subprompts_free(sdc_subprompt *parts, int count);

#endif
