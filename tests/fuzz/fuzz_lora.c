/* LoRA / LyCORIS files (lora/lora.h) applied to a small model of three layers, merged and at
 * run time: any file gives SDC_OK or an error, never a crash or a huge allocation, and
 * freeing the stack leaves every layer with its original weight. */
#include <stdlib.h>
#include <string.h>

#include "lora/lora.h"
#include "tests/fuzz/fuzz.h"

enum { C = 8, N_LAYERS = 3 };

static const struct {
    int table, k;    /* 0 = text encoder, 1 = UNet */
    const char *name; /* the names the seed corpus targets */
} layers[N_LAYERS] = {
    {0, 1, "text_model.encoder.layers.0.self_attn.q_proj"},
    {1, 1, "input_blocks.1.1.proj_in"},
    {1, 3, "input_blocks.1.0.in_layers.2"},
};

static float weights[N_LAYERS][C * C * 9];

static void apply(sdc_layer l[N_LAYERS], sdc_layer_table t[2], const char *path,
                  sdc_lora_mode mode)
{
    sdc_lora_stack *s;
    sdc_lora_targets targets = {.te = &t[0], .unet = &t[1]};
    if (sdc_lora_stack_create(&targets, mode, &s) != SDC_OK)
        return;
    (void)sdc_lora_apply(s, path, 0.7f, 1.3f);
    (void)sdc_lora_apply(s, path, 1.0f, 0.0f); /* a second file on the same layers */
    sdc_lora_stack_free(s);
    for (int i = 0; i < N_LAYERS; i++)
        if (l[i].w.data != weights[i] || l[i].w.owned || l[i].adapters)
            abort(); /* not restored */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    sdc_layer l[N_LAYERS];
    sdc_layer_table t[2];
    memset(l, 0, sizeof l);
    memset(t, 0, sizeof t);
    for (int i = 0; i < N_LAYERS; i++) {
        l[i].w = (sdc_weight){.rows = C, .cols = C * layers[i].k * layers[i].k,
                              .dtype = SDC_DTYPE_F32, .data = weights[i]};
        l[i].in = C;
        l[i].k = layers[i].k;
        if (sdc_layer_table_add(&t[layers[i].table], layers[i].name, &l[i]) != SDC_OK)
            abort();
    }
    apply(l, t, path, SDC_LORA_MERGE);
    apply(l, t, path, SDC_LORA_RUNTIME);
    sdc_layer_table_free(&t[0]);
    sdc_layer_table_free(&t[1]);
    return 0;
}
