/* Text-encoder names: OpenCLIP (SD 2.x single files) and Hugging Face CLIP -> internal
 * (Hugging Face CLIP with the "text_model." prefix). */
#include <stdio.h>
#include <string.h>

#include "weights/name_rules.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Whole names outside the resblocks. */
static const sdc_name_rename openclip_top[] = {
    {"token_embedding.weight", "text_model.embeddings.token_embedding.weight"},
    {"positional_embedding", "text_model.embeddings.position_embedding.weight"},
    {"text_projection", "text_projection"}, /* [W, P], used as x @ text_projection */
};

/* Parts inside "transformer.resblocks.N."; the fused in_proj is handled separately. */
static const sdc_name_rename openclip_layer[] = {
    {"ln_1.", "layer_norm1."},
    {"ln_2.", "layer_norm2."},
    {"mlp.c_fc.", "mlp.fc1."},
    {"mlp.c_proj.", "mlp.fc2."},
    {"attn.out_proj.", "self_attn.out_proj."},
};

static sdc_openclip_kind fits(int r, sdc_openclip_kind kind)
{
    return r == 1 ? kind : SDC_OPENCLIP_TOO_LONG;
}

sdc_openclip_kind sdc_openclip_name(const char *name, char *dst, size_t cap)
{
    for (size_t i = 0; i < COUNT(openclip_top); i++)
        if (strcmp(name, openclip_top[i].from) == 0)
            return fits(sdc_name_compose(dst, cap, openclip_top[i].to, "", NULL, 0),
                        SDC_OPENCLIP_RENAME);
    if (strncmp(name, "ln_final.", 9) == 0)
        return fits(sdc_name_compose(dst, cap, "text_model.final_layer_norm.", name + 9, NULL, 0),
                    SDC_OPENCLIP_RENAME);
    int layer;
    const char *rest;
    if (!sdc_name_match(name, "transformer.resblocks.#.", &layer, &rest))
        return SDC_OPENCLIP_NONE;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "text_model.encoder.layers.%d.", layer);
    if (strcmp(rest, "attn.in_proj_weight") == 0 || strcmp(rest, "attn.in_proj_bias") == 0) {
        sdc_openclip_kind kind = rest[13] == 'w' ? SDC_OPENCLIP_QKV_WEIGHT : SDC_OPENCLIP_QKV_BIAS;
        return fits(sdc_name_compose(dst, cap, prefix, "self_attn.", NULL, 0), kind);
    }
    for (size_t i = 0; i < COUNT(openclip_layer); i++)
        if (strncmp(rest, openclip_layer[i].from, strlen(openclip_layer[i].from)) == 0)
            return fits(sdc_name_compose(dst, cap, prefix, rest, &openclip_layer[i], 1),
                        SDC_OPENCLIP_RENAME);
    return SDC_OPENCLIP_NONE;
}

int sdc_clip_text_name(const char *name, char *dst, size_t cap)
{
    if (strcmp(name, "text_projection.weight") == 0) /* CLIPTextModelWithProjection [P, W] */
        return sdc_name_compose(dst, cap, name, "", NULL, 0);
    const char *inner = strncmp(name, "text_model.", 11) == 0 ? name + 11 : name;
    /* transformers < 4.31 stored position_ids, an index buffer rather than a weight */
    if (strcmp(inner, "embeddings.position_ids") == 0)
        return 0;
    if (strncmp(inner, "embeddings.", 11) != 0 && strncmp(inner, "encoder.", 8) != 0 &&
        strncmp(inner, "final_layer_norm.", 17) != 0)
        return 0;
    return sdc_name_compose(dst, cap, "text_model.", inner, NULL, 0);
}
