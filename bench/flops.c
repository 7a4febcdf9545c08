#include "bench/flops.h"

#include <stdio.h>
#include <string.h>

/* A spatial grid; halving rounds up as the stride-2, pad-1 convolutions do. */
typedef struct grid {
    long h, w;
} grid;

static grid half(grid g) { return (grid){(g.h + 1) / 2, (g.w + 1) / 2}; }
static grid twice(grid g) { return (grid){g.h * 2, g.w * 2}; }

static const sdc_tensor *get(const sdc_checkpoint *ck, sdc_component c, const char *fmt, int a,
                             int b)
{
    char name[256];
    snprintf(name, sizeof name, fmt, a, b);
    return sdc_checkpoint_get(ck, c, name);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int has_prefix(const sdc_checkpoint *ck, sdc_component c, const char *prefix)
{
    size_t n = sdc_checkpoint_count(ck, c), len = strlen(prefix);
    for (size_t i = 0; i < n; i++)
        if (strncmp(sdc_checkpoint_name_at(ck, c, i, NULL), prefix, len) == 0)
            return 1;
    return 0;
}

/* Multiply-adds of weight t applied at every one of `positions` places (a conv at each
 * output pixel, a linear at each token), as FLOP. */
static double weight_flops(const sdc_tensor *t, double positions)
{
    double macs = 1;
    for (int i = 0; i < t->ndim; i++)
        macs *= (double)t->shape[i];
    return 2 * macs * positions;
}

/* Everything inside one UNet block (name prefix `prefix`) at grid g. */
static double unet_block(const sdc_checkpoint *ck, const char *prefix, grid g, int T)
{
    double flops = 0, hw = (double)g.h * g.w;
    size_t n = sdc_checkpoint_count(ck, SDC_COMPONENT_UNET), len = strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        const sdc_tensor *t;
        const char *name = sdc_checkpoint_name_at(ck, SDC_COMPONENT_UNET, i, &t);
        if (strncmp(name, prefix, len) != 0 || !ends_with(name, ".weight") || t->ndim < 2)
            continue;
        if (strstr(name, ".op.weight")) /* down-sampler: stride 2 */
            flops += weight_flops(t, (double)half(g).h * half(g).w);
        else if (ends_with(name, ".conv.weight")) /* up-sampler: after the 2x resize */
            flops += weight_flops(t, 4 * hw);
        else if (strstr(name, "emb_layers"))
            flops += weight_flops(t, 1);
        else if (strstr(name, "attn2.to_k") || strstr(name, "attn2.to_v"))
            flops += weight_flops(t, T);
        else
            flops += weight_flops(t, hw);
        /* the attention products, once per attention (counted at its query projection) */
        if (strstr(name, "attn1.to_q"))
            flops += 4 * hw * hw * (double)t->shape[0];
        else if (strstr(name, "attn2.to_q"))
            flops += 4 * hw * T * (double)t->shape[0];
    }
    return flops;
}

double sdc_bench_unet_flops(const sdc_checkpoint *ck, int B, int h, int w, int T)
{
    char prefix[64];
    grid g = {h, w};
    double flops = 0;
    const sdc_tensor *t;
    for (int i = 0; i < 2; i++)
        if ((t = get(ck, SDC_COMPONENT_UNET, "time_embed.%d.weight", 2 * i, 0)))
            flops += weight_flops(t, 1);
    for (int i = 0;; i++) {
        snprintf(prefix, sizeof prefix, "input_blocks.%d.", i);
        if (!has_prefix(ck, SDC_COMPONENT_UNET, prefix))
            break;
        flops += unet_block(ck, prefix, g, T);
        if (get(ck, SDC_COMPONENT_UNET, "input_blocks.%d.0.op.weight", i, 0))
            g = half(g);
    }
    flops += unet_block(ck, "middle_block.", g, T);
    for (int i = 0;; i++) {
        snprintf(prefix, sizeof prefix, "output_blocks.%d.", i);
        if (!has_prefix(ck, SDC_COMPONENT_UNET, prefix))
            break;
        flops += unet_block(ck, prefix, g, T);
        for (int j = 1; j <= 2; j++)
            if (get(ck, SDC_COMPONENT_UNET, "output_blocks.%d.%d.conv.weight", i, j))
                g = twice(g);
    }
    flops += unet_block(ck, "out.", g, T);
    return B * flops;
}

/* Everything under `prefix` in the VAE at grid g (the up-sampler conv runs at 2x). */
static double vae_block(const sdc_checkpoint *ck, const char *prefix, grid g)
{
    double flops = 0, hw = (double)g.h * g.w;
    size_t n = sdc_checkpoint_count(ck, SDC_COMPONENT_VAE), len = strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        const sdc_tensor *t;
        const char *name = sdc_checkpoint_name_at(ck, SDC_COMPONENT_VAE, i, &t);
        if (strncmp(name, prefix, len) != 0 || !ends_with(name, ".weight") || t->ndim < 2)
            continue;
        flops += weight_flops(t, strstr(name, ".upsample.") ? 4 * hw : hw);
        if (strstr(name, "attn_1.q.weight"))
            flops += 4 * hw * hw * (double)t->shape[0];
    }
    return flops;
}

double sdc_bench_vae_decode_flops(const sdc_checkpoint *ck, int B, int h, int w)
{
    char prefix[64];
    grid g = {h, w};
    double flops = vae_block(ck, "post_quant_conv.", g) + vae_block(ck, "decoder.conv_in.", g) +
                   vae_block(ck, "decoder.mid.", g);
    int levels = 0;
    while (get(ck, SDC_COMPONENT_VAE, "decoder.up.%d.block.0.conv1.weight", levels, 0))
        levels++;
    for (int l = levels - 1; l >= 0; l--) {
        snprintf(prefix, sizeof prefix, "decoder.up.%d.", l);
        flops += vae_block(ck, prefix, g);
        if (get(ck, SDC_COMPONENT_VAE, "decoder.up.%d.upsample.conv.weight", l, 0))
            g = twice(g);
    }
    flops += vae_block(ck, "decoder.conv_out.", g);
    return B * flops;
}

double sdc_bench_text_flops(const sdc_checkpoint *ck, sdc_component c, int B, int T, int layers)
{
    double flops = 0;
    size_t n = sdc_checkpoint_count(ck, c);
    for (int l = 0; l < layers; l++) {
        char prefix[96];
        int len = snprintf(prefix, sizeof prefix, "text_model.encoder.layers.%d.", l);
        for (size_t i = 0; i < n; i++) {
            const sdc_tensor *t;
            const char *name = sdc_checkpoint_name_at(ck, c, i, &t);
            if (strncmp(name, prefix, (size_t)len) != 0 || !ends_with(name, ".weight") ||
                t->ndim != 2)
                continue;
            flops += weight_flops(t, T);
            if (strstr(name, "q_proj"))
                flops += 4.0 * T * T * (double)t->shape[0];
        }
    }
    return B * flops;
}
