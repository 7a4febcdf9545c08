/* AUTOMATIC1111 emphasis syntax: (a:1.2), [b], BREAK, escapes, deep nesting. */
#include <stdlib.h>

#include "clip/prompt_attention.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *prompt = fuzz_string(data, size);
    sdc_prompt_run *runs;
    size_t count;
    if (sdc_prompt_parse_attention(prompt, &runs, &count) == SDC_OK) {
        volatile int breaks = 0;
        for (size_t i = 0; i < count; i++)
            breaks += sdc_prompt_run_is_break(&runs[i]);
        (void)breaks;
        sdc_prompt_runs_free(runs, count);
    }
    free(prompt);
    return 0;
}
