/* The UNet forward pass: time embedding, encoder (keeping every block's output as a skip
 * tensor), middle block, decoder (each block concatenates the last unused skip tensor, FreeU
 * first where enabled), output head. Activations live in the model's arena:
 *   [time embedding][skip tensors][two decoder buffers][per-block scratch, released after
 *   each block] */
#include <limits.h>
#include <string.h>

#include "ops/error.h"
#include "ops/nn.h"
#include "unet/unet_impl.h"

#define OUT_NORM_EPS 1e-5f
/* Bounds on forward arguments, keeping every element count within int for the kernels. */
#define MAX_SIDE 16384
#define MAX_POSITIONS (1 << 24) /* B * h * w */
#define MAX_TOKENS (1 << 22)    /* B * T */

static sdc_status nomem(void)
{
    return sdc_fail(SDC_ERR_NOMEM, "unet: out of memory for activations");
}

static sdc_status check_args(const sdc_unet *u, const float *x, int B, int h, int w,
                             const float *context, int T, const float *out)
{
    if (!x || !out)
        return sdc_fail(SDC_ERR_ARG, "unet: input or output latent is NULL");
    if (B < 1 || h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE ||
        (long long)B * h * w > MAX_POSITIONS)
        return sdc_fail(SDC_ERR_ARG, "unet: unsupported latent size %d x %d x %d", B, h, w);
    if (u->context_dim > 0 && (!context || T < 1 || (long long)B * T > MAX_TOKENS))
        return sdc_fail(SDC_ERR_ARG, "unet: context of %d tokens for batch %d is missing or "
                        "too long", T, B);
    return SDC_OK;
}

/* p->temb [time.dim] = SiLU(time_embed(t)): every resnet projects it after a SiLU. */
static sdc_status time_embedding(sdc_unet *u, sdc_unet_pass *p, float t)
{
    float *temb = sdc_arena_floats(p->arena, (size_t)u->time.dim);
    size_t mark = sdc_arena_mark(p->arena);
    float *scratch = sdc_arena_floats(p->arena, (size_t)u->time.freq_dim + u->time.dim);
    if (!temb || !scratch)
        return nomem();
    sdc_unet_time_embed_forward(&u->time, t, temb, scratch);
    sdc_silu(temb, (size_t)u->time.dim);
    sdc_arena_release(p->arena, mark);
    p->temb = temb;
    return SDC_OK;
}

/* skip[0] = conv_in(x), skip[i + 1] = input block i (skip[i]). */
static sdc_status encoder(sdc_unet *u, const sdc_unet_pass *p, const float *x, int h, int w)
{
    int B = p->B;
    u->skip_h[0] = h;
    u->skip_w[0] = w;
    u->skip[0] = sdc_arena_floats(p->arena, (size_t)B * u->skip_c[0] * h * w);
    if (!u->skip[0] || sdc_conv2d(u->skip[0], x, B, u->in_channels, h, w, &u->conv_in.w,
                                  u->conv_in.bias, 3, 1, 1, p->arena))
        return nomem();
    for (int i = 0; i < u->n_input; i++) {
        const sdc_unet_block *b = &u->input[i];
        int H = u->skip_h[i], W = u->skip_w[i], Ho, Wo;
        sdc_unet_block_out_size(b, H, W, H, W, &Ho, &Wo);
        float *y = sdc_arena_floats(p->arena, (size_t)B * b->c_out * Ho * Wo);
        if (!y)
            return nomem();
        sdc_status s = sdc_unet_block_forward(b, p, y, u->skip[i], H, W, H, W);
        if (s != SDC_OK)
            return s;
        u->skip[i + 1] = y;
        u->skip_h[i + 1] = Ho;
        u->skip_w[i + 1] = Wo;
    }
    return SDC_OK;
}

/* Where decoder block j up-samples to: the size of the skip tensor block j + 1 takes. */
static void up_target(const sdc_unet *u, int j, int H, int W, int *up_h, int *up_w)
{
    int k = u->n_skip - 2 - j;
    *up_h = k >= 0 ? u->skip_h[k] : 2 * H;
    *up_w = k >= 0 ? u->skip_w[k] : 2 * W;
}

/* Largest middle / decoder block output, in floats. */
static size_t decoder_buffer_size(const sdc_unet *u, int B)
{
    int H = u->skip_h[u->n_skip - 1], W = u->skip_w[u->n_skip - 1];
    int c_mid = u->mid_resnet1.c_out > u->mid_resnet2.c_out ? u->mid_resnet1.c_out
                                                             : u->mid_resnet2.c_out;
    size_t most = (size_t)B * c_mid * H * W;
    for (int j = 0; j < u->n_output; j++) {
        const sdc_unet_block *b = &u->output[j];
        int up_h, up_w;
        up_target(u, j, H, W, &up_h, &up_w);
        sdc_unet_block_out_size(b, H, W, up_h, up_w, &H, &W);
        size_t n = (size_t)B * b->c_out * H * W;
        most = n > most ? n : most;
    }
    return most;
}

/* y [B, C, H, W] = middle block (last skip tensor); tmp is a buffer of the same size. */
static sdc_status middle(const sdc_unet *u, const sdc_unet_pass *p, float *y, float *tmp)
{
    int k = u->n_skip - 1, H = u->skip_h[k], W = u->skip_w[k];
    sdc_status s = sdc_unet_resnet_forward(&u->mid_resnet1, p, tmp, u->skip[k], H, W);
    if (s == SDC_OK)
        s = sdc_unet_transformer_forward(&u->mid_attn, p, tmp, H, W);
    if (s == SDC_OK)
        s = sdc_unet_resnet_forward(&u->mid_resnet2, p, y, tmp, H, W);
    return s;
}

/* Decoder block j: y = block(cat[h, skip]) after FreeU; h [B, C, H, W]. */
static sdc_status decoder_block(sdc_unet *u, const sdc_unet_pass *p, int j, float *y, float *h,
                                int C, int H, int W)
{
    const sdc_unet_block *b = &u->output[j];
    int k = u->n_skip - 1 - j, Cs = u->skip_c[k], up_h, up_w;
    if (u->skip_h[k] != H || u->skip_w[k] != W) /* excluded by the load-time level check */
        return sdc_fail(SDC_ERR_FORMAT, "unet: output block %d meets a %d x %d skip tensor at "
                        "%d x %d", j, u->skip_h[k], u->skip_w[k], H, W);
    sdc_status s = sdc_freeu_apply(&u->freeu, u->output_level[j], h, C, u->skip[k], Cs, p->B, H,
                                   W);
    if (s != SDC_OK)
        return s;
    size_t mark = sdc_arena_mark(p->arena);
    float *cat = sdc_arena_floats(p->arena, (size_t)p->B * (C + Cs) * H * W);
    if (!cat)
        return nomem();
    sdc_concat_channels(cat, h, C, u->skip[k], Cs, p->B, H * W); // [B, C + Cs, H, W]
    up_target(u, j, H, W, &up_h, &up_w);
    s = sdc_unet_block_forward(b, p, y, cat, H, W, up_h, up_w);
    sdc_arena_release(p->arena, mark);
    return s;
}

/* out = conv_out(SiLU(GN(h))) */
static sdc_status head(const sdc_unet *u, const sdc_unet_pass *p, float *out, const float *h,
                       int C, int H, int W)
{
    size_t mark = sdc_arena_mark(p->arena);
    float *a = sdc_arena_floats(p->arena, (size_t)p->B * C * H * W);
    if (!a)
        return nomem();
    sdc_group_norm(a, h, p->B, C, H * W, SDC_UNET_GROUPS, u->norm_out.gamma, u->norm_out.beta,
                   OUT_NORM_EPS, 1);
    int bad = sdc_conv2d(out, a, p->B, C, H, W, &u->conv_out.w, u->conv_out.bias, 3, 1, 1,
                         p->arena);
    sdc_arena_release(p->arena, mark);
    return bad ? nomem() : SDC_OK;
}

static sdc_status decoder(sdc_unet *u, const sdc_unet_pass *p, float *out)
{
    size_t n = decoder_buffer_size(u, p->B);
    float *buf[2] = {sdc_arena_floats(p->arena, n), sdc_arena_floats(p->arena, n)};
    if (!buf[0] || !buf[1])
        return nomem();
    int cur = 0, C = u->mid_resnet2.c_out;
    int H = u->skip_h[u->n_skip - 1], W = u->skip_w[u->n_skip - 1];
    sdc_status s = middle(u, p, buf[cur], buf[!cur]);
    for (int j = 0; j < u->n_output && s == SDC_OK; j++) {
        const sdc_unet_block *b = &u->output[j];
        s = decoder_block(u, p, j, buf[!cur], buf[cur], C, H, W);
        int up_h, up_w;
        up_target(u, j, H, W, &up_h, &up_w);
        sdc_unet_block_out_size(b, H, W, up_h, up_w, &H, &W);
        C = b->c_out;
        cur = !cur;
    }
    if (s == SDC_OK)
        s = head(u, p, out, buf[cur], C, H, W);
    return s;
}

sdc_status sdc_unet_forward(sdc_unet *u, const float *x, int B, int h, int w, float t,
                            const float *context, int T, float *out)
{
    sdc_status s = check_args(u, x, B, h, w, context, T, out);
    if (s != SDC_OK)
        return s;
    sdc_arena_reset(&u->arena);
    sdc_unet_pass p = {.arena = &u->arena, .B = B, .context = context, .T = T};
    s = time_embedding(u, &p, t);
    if (s == SDC_OK)
        s = encoder(u, &p, x, h, w);
    if (s == SDC_OK)
        s = decoder(u, &p, out);
    return s;
}
