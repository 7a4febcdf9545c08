/* diffusers UNet / VAE names -> LDM names.
 *
 * LDM numbers the UNet's blocks flat: input_blocks.0 is conv_in, then per level its
 * resnets (each with its attention as sub-block .1) and a downsampler; output_blocks has
 * per level one more resnet than the down path and ends the level with the upsampler, which
 * is sub-block .2 when the level has attentions, else .1. The VAE decoder's up blocks run in
 * the opposite order. Inside resnets and attentions only a few part names differ. */
#include <stdio.h>
#include <string.h>

#include "weights/name_rules.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const sdc_name_rename unet_top[] = {
    {"time_embedding.linear_1.", "time_embed.0."},
    {"time_embedding.linear_2.", "time_embed.2."},
    {"add_embedding.linear_1.", "label_emb.0.0."}, /* SDXL */
    {"add_embedding.linear_2.", "label_emb.0.2."},
    {"class_embedding.", "label_emb."}, /* the x4 upscaler's noise-level table */
    {"conv_in.", "input_blocks.0.0."},
    {"conv_norm_out.", "out.0."},
    {"conv_out.", "out.2."},
};

static const sdc_name_rename unet_resnet[] = {
    {"norm1.", "in_layers.0."},
    {"conv1.", "in_layers.2."},
    {"time_emb_proj.", "emb_layers.1."},
    {"norm2.", "out_layers.0."},
    {"conv2.", "out_layers.3."},
    {"conv_shortcut.", "skip_connection."},
};

typedef enum unet_part {
    DOWN_RES, DOWN_ATTN, DOWN_SAMPLE, MID_RES, MID_ATTN, UP_RES, UP_ATTN, UP_SAMPLE
} unet_part;

static const struct {
    const char *pattern;
    unet_part part;
} unet_blocks[] = {
    {"down_blocks.#.resnets.#.", DOWN_RES},
    {"down_blocks.#.attentions.#.", DOWN_ATTN},
    {"down_blocks.#.downsamplers.0.conv.", DOWN_SAMPLE},
    {"mid_block.resnets.#.", MID_RES},
    {"mid_block.attentions.0.", MID_ATTN},
    {"up_blocks.#.resnets.#.", UP_RES},
    {"up_blocks.#.attentions.#.", UP_ATTN},
    {"up_blocks.#.upsamplers.0.", UP_SAMPLE},
};

static const sdc_name_rename vae_resnet[] = {
    {"conv_shortcut.", "nin_shortcut."},
};

/* Old diffusers wrote query/key/value/proj_attn, newer ones the Attention module's names. */
static const sdc_name_rename vae_attn[] = {
    {"group_norm.", "norm."}, {"to_q.", "q."},   {"query.", "q."},
    {"to_k.", "k."},          {"key.", "k."},    {"to_v.", "v."},
    {"value.", "v."},         {"to_out.0.", "proj_out."}, {"proj_attn.", "proj_out."},
};

typedef enum vae_part { ENC_RES, ENC_DOWN, DEC_RES, DEC_UP, VMID_RES, VMID_ATTN, NORM_OUT } vae_part;

/* Patterns after the "encoder." / "decoder." side prefix. */
static const struct {
    const char *pattern;
    vae_part part;
} vae_blocks[] = {
    {"down_blocks.#.resnets.#.", ENC_RES},
    {"down_blocks.#.downsamplers.0.", ENC_DOWN},
    {"up_blocks.#.resnets.#.", DEC_RES},
    {"up_blocks.#.upsamplers.0.", DEC_UP},
    {"mid_block.resnets.#.", VMID_RES},
    {"mid_block.attentions.0.", VMID_ATTN},
    {"conv_norm_out.", NORM_OUT},
};

void sdc_diffusers_hints_init(sdc_diffusers_hints *h)
{
    memset(h, 0, sizeof *h);
}

void sdc_diffusers_hints_scan(sdc_diffusers_hints *h, const char *name)
{
    int ix[2];
    const char *rest;
    if (sdc_name_match(name, "down_blocks.#.resnets.#.", ix, &rest) &&
        ix[1] + 1 > h->unet_layers_per_block)
        h->unet_layers_per_block = ix[1] + 1;
    if (sdc_name_match(name, "up_blocks.#.attentions.", ix, &rest) && ix[0] < 32)
        h->unet_up_attn |= 1u << ix[0];
    if (sdc_name_match(name, "decoder.up_blocks.#.", ix, &rest) && ix[0] + 1 > h->vae_up_blocks)
        h->vae_up_blocks = ix[0] + 1;
}

static int find_rename(const char *name, const sdc_name_rename *rules, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strncmp(name, rules[i].from, strlen(rules[i].from)) == 0)
            return (int)i;
    return -1;
}

/* The LDM prefix of a UNet block; returns 0 when it does not fit. */
static int unet_prefix(const sdc_diffusers_hints *h, unet_part part, const int *ix, char *p,
                       size_t cap)
{
    /* LDM blocks per level: the down path's resnets plus one resampler, which equals the
     * up path's resnet count */
    int per = (h->unet_layers_per_block > 0 ? h->unet_layers_per_block : 2) + 1;
    int n = 0;
    switch (part) {
    case DOWN_RES: n = snprintf(p, cap, "input_blocks.%d.0.", 1 + ix[0] * per + ix[1]); break;
    case DOWN_ATTN: n = snprintf(p, cap, "input_blocks.%d.1.", 1 + ix[0] * per + ix[1]); break;
    case DOWN_SAMPLE: n = snprintf(p, cap, "input_blocks.%d.0.op.", (ix[0] + 1) * per); break;
    case MID_RES: n = snprintf(p, cap, "middle_block.%d.", 2 * ix[0]); break;
    case MID_ATTN: n = snprintf(p, cap, "middle_block.1."); break;
    case UP_RES: n = snprintf(p, cap, "output_blocks.%d.0.", ix[0] * per + ix[1]); break;
    case UP_ATTN: n = snprintf(p, cap, "output_blocks.%d.1.", ix[0] * per + ix[1]); break;
    case UP_SAMPLE: {
        int attn = ix[0] < 32 && (h->unet_up_attn >> ix[0] & 1u);
        n = snprintf(p, cap, "output_blocks.%d.%d.", ix[0] * per + per - 1, attn ? 2 : 1);
        break;
    }
    }
    return n > 0 && (size_t)n < cap;
}

int sdc_diffusers_unet_name(const sdc_diffusers_hints *h, const char *name, char *dst,
                            size_t cap)
{
    int top = find_rename(name, unet_top, COUNT(unet_top));
    if (top >= 0)
        return sdc_name_compose(dst, cap, "", name, &unet_top[top], 1);
    for (size_t i = 0; i < COUNT(unet_blocks); i++) {
        int ix[2] = {0, 0};
        const char *rest;
        if (!sdc_name_match(name, unet_blocks[i].pattern, ix, &rest))
            continue;
        char prefix[64];
        unet_part part = unet_blocks[i].part;
        if (!unet_prefix(h, part, ix, prefix, sizeof prefix))
            return -1;
        int resnet = part == DOWN_RES || part == MID_RES || part == UP_RES;
        return sdc_name_compose(dst, cap, prefix, rest, unet_resnet,
                                resnet ? COUNT(unet_resnet) : 0);
    }
    return 0;
}

static int vae_prefix(const sdc_diffusers_hints *h, const char *side, vae_part part,
                      const int *ix, char *p, size_t cap)
{
    int up = h->vae_up_blocks - 1 - ix[0]; /* LDM numbers decoder levels bottom-up */
    int n = 0;
    switch (part) {
    case ENC_RES: n = snprintf(p, cap, "%sdown.%d.block.%d.", side, ix[0], ix[1]); break;
    case ENC_DOWN: n = snprintf(p, cap, "%sdown.%d.downsample.", side, ix[0]); break;
    case DEC_RES: n = up < 0 ? 0 : snprintf(p, cap, "%sup.%d.block.%d.", side, up, ix[1]); break;
    case DEC_UP: n = up < 0 ? 0 : snprintf(p, cap, "%sup.%d.upsample.", side, up); break;
    case VMID_RES: n = snprintf(p, cap, "%smid.block_%d.", side, ix[0] + 1); break;
    case VMID_ATTN: n = snprintf(p, cap, "%smid.attn_1.", side); break;
    case NORM_OUT: n = snprintf(p, cap, "%snorm_out.", side); break;
    }
    return n > 0 && (size_t)n < cap;
}

int sdc_diffusers_vae_name(const sdc_diffusers_hints *h, const char *name, char *dst,
                           size_t cap)
{
    const char *side = strncmp(name, "encoder.", 8) == 0   ? "encoder."
                       : strncmp(name, "decoder.", 8) == 0 ? "decoder."
                                                           : NULL;
    if (!side) {
        int conv = strncmp(name, "quant_conv.", 11) == 0 ||
                   strncmp(name, "post_quant_conv.", 16) == 0;
        return conv ? sdc_name_compose(dst, cap, "", name, NULL, 0) : 0;
    }
    const char *inner = name + 8;
    for (size_t i = 0; i < COUNT(vae_blocks); i++) {
        int ix[2] = {0, 0};
        const char *rest;
        if (!sdc_name_match(inner, vae_blocks[i].pattern, ix, &rest))
            continue;
        char prefix[64];
        vae_part part = vae_blocks[i].part;
        if (!vae_prefix(h, side, part, ix, prefix, sizeof prefix))
            return part == DEC_RES || part == DEC_UP ? 0 : -1;
        if (part == VMID_ATTN)
            return sdc_name_compose(dst, cap, prefix, rest, vae_attn, COUNT(vae_attn));
        int resnet = part == ENC_RES || part == DEC_RES || part == VMID_RES;
        return sdc_name_compose(dst, cap, prefix, rest, vae_resnet,
                                resnet ? COUNT(vae_resnet) : 0);
    }
    /* conv_in / conv_out, or a name already in LDM form */
    return sdc_name_compose(dst, cap, "", name, NULL, 0);
}
