/* AUTOMATIC1111 prompt editing, alternation and AND (clip/prompt_schedule.h): the first byte
 * picks the steps (1..64) and whether the hires-pass rule applies; the rest is the prompt.
 * Bracket soups, deep nesting and megabyte prompts must parse in bounded time and memory,
 * every entry must be a text no longer than the prompt, and the steps must ascend. */
#include <stdlib.h>
#include <string.h>

#include "clip/prompt_schedule.h"
#include "tests/fuzz/fuzz.h"

static void check_schedule(const char *prompt, int steps, int hires)
{
    sdc_prompt_schedule s;
    if (sdc_prompt_schedule_build(prompt, steps, hires, &s) != SDC_OK)
        return;
    size_t n = strlen(prompt);
    int last = 0, pass = hires > 0 ? hires : steps;
    for (int i = 0; i < s.count; i++) {
        if (s.steps[i].end_at_step <= last || strlen(s.steps[i].text) > n)
            abort();
        last = s.steps[i].end_at_step;
    }
    if (s.count < 1 || last != pass || !sdc_prompt_schedule_at(&s, pass + 1))
        abort();
    sdc_prompt_schedule_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int steps = 1 + (data[0] & 63), hires = data[0] & 64 ? 1 + (data[0] >> 7) * 9 : 0;
    char *prompt = fuzz_string(data + 1, size - 1);
    check_schedule(prompt, steps, hires);
    sdc_subprompt *parts;
    int count;
    if (sdc_prompt_split_and(prompt, &parts, &count) == SDC_OK) {
        for (int i = 0; i < count; i++)
            check_schedule(parts[i].text, steps, 0);
        sdc_subprompts_free(parts, count);
    }
    free(prompt);
    return 0;
}
