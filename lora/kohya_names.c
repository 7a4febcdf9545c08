/* kohya-ss writes a module path with every '.' turned into '_', so "proj_in" and
 * "attentions_0" look alike. The path is rebuilt from its '_'-separated words: the module
 * names of diffusers' UNet and Hugging Face's CLIPTextModel that themselves contain '_' are
 * listed here and kept whole, every other '_' was a '.'. The result is only a candidate: it
 * is looked up in the model's layer table, and a name that is not there counts as unmatched. */
#include <string.h>

#include "lora/lora_impl.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Longer names first where one starts another ("conv_norm_out" before "conv_out"). */
static const char *const compounds[] = {
    "conv_norm_out", "time_emb_proj", "conv_shortcut", "transformer_blocks", "final_layer_norm",
    "time_embedding", "add_embedding", "down_blocks", "up_blocks", "mid_block", "proj_in",
    "proj_out", "conv_in", "conv_out", "to_q", "to_k", "to_v", "to_out", "linear_1", "linear_2",
    "text_model", "self_attn", "q_proj", "k_proj", "v_proj", "out_proj", "layer_norm1",
    "layer_norm2",
    /* kohya's SDXL files name the UNet's layers as the LDM checkpoint does */
    "input_blocks", "output_blocks", "middle_block", "in_layers", "out_layers", "emb_layers",
    "skip_connection", "time_embed", "label_emb",
};

/* Length of the compound starting at s (ending at '_' or the end), or 0. */
static size_t compound_at(const char *s)
{
    for (size_t i = 0; i < COUNT(compounds); i++) {
        size_t n = strlen(compounds[i]);
        if (strncmp(s, compounds[i], n) == 0 && (s[n] == '_' || s[n] == '\0'))
            return n;
    }
    return 0;
}

int sdc_lora_kohya_module(const char *flat, char *dst, size_t cap)
{
    size_t len = strlen(flat), o = 0;
    if (len == 0 || len >= cap)
        return 0;
    for (size_t i = 0; i < len;) {
        size_t word = compound_at(flat + i);
        if (!word) {
            const char *us = strchr(flat + i, '_');
            word = us ? (size_t)(us - (flat + i)) : len - i;
        }
        if (word == 0)
            return 0; /* "__" or a leading '_': no module path */
        memcpy(dst + o, flat + i, word);
        o += word;
        i += word;
        if (i < len) {
            dst[o++] = '.';
            i++; /* the '_' that was a '.' */
        }
    }
    dst[o] = '\0';
    return 1;
}
