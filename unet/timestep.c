#include "unet/timestep.h"

#include <math.h>
#include <string.h>

#include "ops/error.h"
#include "ops/nn.h"

sdc_status sdc_unet_time_embed_load(sdc_unet_time_embed *te, const sdc_layer_source *src)
{
    memset(te, 0, sizeof *te);
    sdc_status s = sdc_layer_load(src, "time_embed", "0", -1, 1, 1, &te->linear1);
    if (s == SDC_OK) {
        te->freq_dim = te->linear1.in;
        te->dim = te->linear1.w.rows;
        s = sdc_layer_load(src, "time_embed", "2", te->dim, 1, 1, &te->linear2);
    }
    if (s == SDC_OK)
        s = sdc_layer_check_out(src, "time_embed", "2", &te->linear2, te->dim);
    if (s != SDC_OK)
        sdc_unet_time_embed_free(te);
    return s;
}

void sdc_unet_time_embed_free(sdc_unet_time_embed *te)
{
    sdc_layer_free(&te->linear1);
    sdc_layer_free(&te->linear2);
}

void sdc_unet_timestep_sinusoid(float *emb, int n, float t)
{
    int half = n / 2;
    /* torch: exponent = -ln(10000) * arange(half) / half, each step rounded to float32 */
    const float neg_log_period = (float)-log(10000.0);
    for (int i = 0; i < half; i++) {
        float exponent = neg_log_period * (float)i / (float)half;
        float arg = t * expf(exponent);
        emb[i] = cosf(arg);
        emb[half + i] = sinf(arg);
    }
    if (n % 2)
        emb[n - 1] = 0.0f;
}

void sdc_unet_time_ids_embed(float *emb, const float *ids, int n_ids, int D)
{
    for (int i = 0; i < n_ids; i++)
        sdc_unet_timestep_sinusoid(emb + (size_t)i * D, D, ids[i]);
}

int sdc_unet_time_embed_forward(const sdc_unet_time_embed *te, float t, float *out,
                                float *scratch, sdc_arena *arena)
{
    float *freq = scratch, *hidden = scratch + te->freq_dim;
    sdc_unet_timestep_sinusoid(freq, te->freq_dim, t); // [freq_dim]
    if (sdc_layer_linear(&te->linear1, hidden, freq, 1, arena)) // [dim]
        return -1;
    sdc_silu(hidden, (size_t)te->dim);
    return sdc_layer_linear(&te->linear2, out, hidden, 1, arena); // [dim]
}
