#include "vae/mid.h"

#include <string.h>

#include "ops/error.h"

sdc_status sdc_vae_mid_load(sdc_vae_mid *m, const sdc_layer_source *src, const char *prefix, int c)
{
    char name[SDC_VAE_NAME_MAX];
    memset(m, 0, sizeof *m);
    sdc_vae_name(name, "%s.block_1", prefix);
    sdc_status s = sdc_vae_resnet_load(&m->block_1, src, name, c);
    if (s == SDC_OK && m->block_1.c_out != c)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: vae block '%s' maps %d channels to %d, want %d",
                     sdc_checkpoint_path(src->ck), name, c, m->block_1.c_out, c);
    if (s == SDC_OK) {
        sdc_vae_name(name, "%s.attn_1", prefix);
        s = sdc_vae_attention_load(&m->attn, src, name, c);
    }
    if (s == SDC_OK) {
        sdc_vae_name(name, "%s.block_2", prefix);
        s = sdc_vae_resnet_load(&m->block_2, src, name, c);
    }
    if (s == SDC_OK && m->block_2.c_out != c)
        s = sdc_fail(SDC_ERR_FORMAT, "%s: vae block '%s' maps %d channels to %d, want %d",
                     sdc_checkpoint_path(src->ck), name, c, m->block_2.c_out, c);
    if (s != SDC_OK)
        sdc_vae_mid_free(m);
    return s;
}

void sdc_vae_mid_free(sdc_vae_mid *m)
{
    sdc_vae_resnet_free(&m->block_1);
    sdc_vae_attention_free(&m->attn);
    sdc_vae_resnet_free(&m->block_2);
}

sdc_status sdc_vae_mid_forward(const sdc_vae_mid *m, const sdc_vae_pass *p, float *x, int H,
                               int W)
{
    sdc_status s = sdc_vae_resnet_forward(&m->block_1, p, x, H, W); // [B, c, H, W]
    if (s == SDC_OK)
        s = sdc_vae_attention_forward(&m->attn, p, x, H, W);
    if (s == SDC_OK)
        s = sdc_vae_resnet_forward(&m->block_2, p, x, H, W);
    return s;
}
