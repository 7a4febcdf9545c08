/* The CLIP tokenizer (ftfy-style cleanup, pre-tokenizer, BPE) with the real vocabulary, which
 * $SDC_VOCAB names. A clone without ../shared (no vocabulary there) replays the corpus with
 * the demo model's small vocabulary instead, which runs the same code. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clip/tokenizer.h"
#include "tests/fuzz/fuzz.h"

static sdc_tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *vocab = getenv("SDC_VOCAB"), *src = getenv("SDC_SOURCE_DIR");
    char demo[4096] = "";
    if ((!vocab || access(vocab, R_OK) != 0) && src)
        snprintf(demo, sizeof demo, "%s/models/demo", src);
    if (sdc_tokenizer_load(demo[0] ? demo : NULL, NULL, &tok) != SDC_OK) {
        fprintf(stderr, "fuzz_tokenizer: %s (set SDC_VOCAB)\n", sdc_last_error());
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    int32_t *ids, window[SDC_CLIP_CONTEXT];
    size_t n;
    if (sdc_tokenize(tok, text, &ids, &n) == SDC_OK) {
        sdc_tokenizer_window(tok, ids, n, SDC_CLIP_PAD_SD1, window);
        for (size_t i = 0; i < n; i++)
            if (!sdc_tokenizer_token_string(tok, ids[i]))
                abort(); /* every id must name a token */
        free(ids);
    }
    char *clean;
    if (sdc_tokenizer_clean_text(text, &clean) == SDC_OK)
        free(clean);
    free(text);
    return 0;
}
