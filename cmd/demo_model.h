/* The built-in demo model (models/demo/, docs/demo.md): a tiny SD 1.x checkpoint trained by
 * tools/train-demo/ on generated pictures of coloured shapes. `sdc -m demo`, or no -m at all,
 * uses it. */
#ifndef SDC_CMD_DEMO_MODEL_H
#define SDC_CMD_DEMO_MODEL_H

#include <stddef.h>

#include "cmd/options.h"
#include "sdc.h"

#define SDC_DEMO_MODEL_NAME "demo"
#define SDC_DEMO_FILE "model.safetensors"
/* The picture size the model was trained for; used where the command line does not say. */
#define SDC_DEMO_SIZE 64

/* The demo checkpoint's path into buf. Looks in $SDC_DEMO_DIR (when set, it must hold the
 * model), then in models/demo of the source tree the running program was built in (up to
 * three folders above the executable), then in <executable>/../share/sdc/demo, then in the
 * data folder `meson install` put it in, then in models/demo of the source tree this program
 * was configured from (SDC_DEMO_SOURCE_DIR: build folders outside the source tree). */
sdc_status sdc_demo_model_find(char *buf, size_t cap);

/* When opt->model is NULL or "demo": points it at the demo checkpoint (kept in buf), says so
 * on stderr when `announce` (and not --quiet), and sets the width and height the options do
 * not give to the demo's. */
sdc_status sdc_demo_model_apply(sdc_cli_options *opt, char *buf, size_t cap, int announce);

#endif
