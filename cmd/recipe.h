/* The recipe a generation runs with (--recipe, docs/fast.md): the named one, else the
 * model's, else what the flags say (an LCM-LoRA, --sampling-method lcm). */
#ifndef SDC_CMD_RECIPE_H
#define SDC_CMD_RECIPE_H

#include "cmd/options.h"

/* Sets g's steps, CFG scale, sampler and scheduler to the recipe's, except those given on the
 * command line or in the job. The model's recipe comes from `model`, or, when it is NULL,
 * from the headers of the file o->model (batch --resume checks pictures before loading);
 * with a model, what was chosen is said as information (sdc -v). */
sdc_status sdc_cli_apply_recipe(const sdc_cli_options *o, const sdc_model *model,
                                sdc_generate_params *g);

#endif
