/* `sdc batch` job files: JSON Lines or plain text, every option by its long name. */
#include "cmd/batch_jobs.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdc_cli_options defaults;
    sdc_cli_defaults(&defaults);
    defaults.model = "model.safetensors";
    sdc_batch_jobs jobs;
    if (sdc_batch_jobs_parse((const char *)data, size, SDC_BATCH_FORMAT_AUTO, &defaults, "out", 0,
                             &jobs) == SDC_OK)
        sdc_batch_jobs_free(&jobs);
    return 0;
}
