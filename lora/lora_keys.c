/* Tensor names of the three adapter-file layouts -> (component, module path, slot).
 *
 *   kohya-ss / LyCORIS  lora_unet_<module with '.' -> '_'>.<part>, lora_te_<...>.<part>
 *   diffusers PEFT      unet.<module>.lora_A.weight (down), .lora_B.weight (up)
 *   diffusers (old)     unet.<attention>.processor.to_q_lora.down.weight, text_encoder.
 *                       <...>.self_attn.to_q_lora.up.weight (to_k, to_v, to_out)
 */
#include <stdio.h>
#include <string.h>

#include "lora/lora_impl.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *suffix;
    int slot;
} kohya_parts[] = {
    {"lora_down.weight", LORA_DOWN}, {"lora_up.weight", LORA_UP},
    {"lora_mid.weight", LORA_MID},   {"alpha", LORA_ALPHA},
    {"hada_w1_a", HADA_W1A},         {"hada_w1_b", HADA_W1B},
    {"hada_w2_a", HADA_W2A},         {"hada_w2_b", HADA_W2B},
    {"lokr_w1", LOKR_W1},            {"lokr_w1_a", LOKR_W1A},
    {"lokr_w1_b", LOKR_W1B},         {"lokr_w2", LOKR_W2},
    {"lokr_w2_a", LOKR_W2A},         {"lokr_w2_b", LOKR_W2B},
    {"diff", LORA_DIFF},
};

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Copies s[0, len) into dst; 0 when it does not fit or is empty. */
static int copy_span(char *dst, size_t cap, const char *s, size_t len)
{
    if (len == 0 || len >= cap)
        return 0;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 1;
}

static int parse_kohya(const char *name, sdc_lora_component *c, char *module, size_t cap,
                       int *slot)
{
    const char *flat;
    if (starts(name, "lora_unet_"))
        *c = SDC_LORA_UNET, flat = name + 10;
    else if (starts(name, "lora_te_") || starts(name, "lora_te1_"))
        *c = SDC_LORA_TE, flat = name + (name[7] == '1' ? 9 : 8);
    else if (starts(name, "lora_te2_"))
        *c = SDC_LORA_TE2, flat = name + 9;
    else
        return 0;
    const char *dot = strchr(flat, '.');
    if (!dot)
        return 0;
    for (size_t i = 0; i < COUNT(kohya_parts); i++) {
        if (strcmp(dot + 1, kohya_parts[i].suffix) != 0)
            continue;
        char buf[256];
        *slot = kohya_parts[i].slot;
        return copy_span(buf, sizeof buf, flat, (size_t)(dot - flat)) &&
               sdc_lora_kohya_module(buf, module, cap);
    }
    return 0;
}

/* "unet." / "text_encoder." prefix of the diffusers layouts; the rest in *rest. */
static int diffusers_component(const char *name, sdc_lora_component *c, const char **rest)
{
    if (starts(name, "unet."))
        *c = SDC_LORA_UNET, *rest = name + 5;
    else if (starts(name, "text_encoder."))
        *c = SDC_LORA_TE, *rest = name + 13;
    else
        return 0;
    return 1;
}

static int parse_peft(const char *name, sdc_lora_component *c, char *module, size_t cap,
                      int *slot)
{
    const char *rest;
    if (!diffusers_component(name, c, &rest))
        return 0;
    static const char a[] = ".lora_A.weight", b[] = ".lora_B.weight";
    int down = ends(rest, a);
    if (!down && !ends(rest, b))
        return 0;
    *slot = down ? LORA_DOWN : LORA_UP;
    return copy_span(module, cap, rest, strlen(rest) - (sizeof a - 1));
}

/* The old processor names of the four attention projections, as module names. */
static const struct {
    const char *proc, *unet, *te;
} old_projections[] = {
    {"to_q_lora", "to_q", "q_proj"},
    {"to_k_lora", "to_k", "k_proj"},
    {"to_v_lora", "to_v", "v_proj"},
    {"to_out_lora", "to_out.0", "out_proj"},
};

static int parse_old(const char *name, sdc_lora_component *c, char *module, size_t cap,
                     int *slot)
{
    const char *rest;
    if (!diffusers_component(name, c, &rest))
        return 0;
    int down = ends(rest, ".down.weight");
    if (!down && !ends(rest, ".up.weight"))
        return 0;
    *slot = down ? LORA_DOWN : LORA_UP;
    size_t len = strlen(rest) - strlen(down ? ".down.weight" : ".up.weight");
    for (size_t i = 0; i < COUNT(old_projections); i++) {
        size_t p = strlen(old_projections[i].proc);
        if (len <= p + 1 || strncmp(rest + len - p, old_projections[i].proc, p) != 0 ||
            rest[len - p - 1] != '.')
            continue;
        size_t parent = len - p - 1; /* the attention module, maybe with ".processor" */
        if (parent > 10 && strncmp(rest + parent - 10, ".processor", 10) == 0)
            parent -= 10;
        const char *proj = *c == SDC_LORA_UNET ? old_projections[i].unet : old_projections[i].te;
        int n = snprintf(module, cap, "%.*s.%s", (int)parent, rest, proj);
        return n > 0 && (size_t)n < cap;
    }
    return 0;
}

int sdc_lora_parse_key(sdc_lora_layout layout, const char *name, sdc_lora_component *component,
                       char *module, size_t cap, int *slot)
{
    switch (layout) {
    case SDC_LORA_KOHYA: return parse_kohya(name, component, module, cap, slot);
    case SDC_LORA_PEFT: return parse_peft(name, component, module, cap, slot);
    case SDC_LORA_DIFFUSERS_OLD: return parse_old(name, component, module, cap, slot);
    }
    return 0;
}

int sdc_lora_detect_layout(const sdc_safetensors *st)
{
    static const sdc_lora_layout order[] = {SDC_LORA_KOHYA, SDC_LORA_PEFT,
                                            SDC_LORA_DIFFUSERS_OLD};
    size_t n = sdc_safetensors_count(st);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < COUNT(order); k++) {
            sdc_lora_component c;
            char module[256];
            int slot;
            if (sdc_lora_parse_key(order[k], sdc_safetensors_entry(st, i)->name, &c, module,
                                   sizeof module, &slot))
                return (int)order[k];
        }
    return -1;
}
