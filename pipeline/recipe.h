/* How names declare a recipe (pipeline/recipe.c, docs/fast.md), shared with the command
 * line's LoRA rule (cmd/recipe.c). */
#ifndef SDC_PIPELINE_RECIPE_H
#define SDC_PIPELINE_RECIPE_H

#include <stddef.h>

/* Whether the lower-case `word` is a whole word of letters in text[0 .. n) (case ignored):
 * "sd_xl_turbo_1.0" and "LCM-Dreamshaper" have theirs, "turbocharged" does not. */
int sdc_recipe_has_word(const char *text, size_t n, const char *word);

#endif
