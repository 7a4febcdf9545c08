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
                             const sdc_unet_cond *c, const float *out)
{
    if (!x || !out || !c)
        return sdc_fail(SDC_ERR_ARG, "unet: input, conditioning or output is NULL");
    if (B < 1 || h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE ||
        (long long)B * h * w > MAX_POSITIONS)
        return sdc_fail(SDC_ERR_ARG, "unet: unsupported latent size %d x %d x %d", B, h, w);
    if (u->context_dim > 0 && (!c->context || c->tokens < 1 ||
                               (long long)B * c->tokens > MAX_TOKENS))
        return sdc_fail(SDC_ERR_ARG, "unet: context of %d tokens for batch %d is missing or "
                        "too long", c->tokens, B);
    if (c->extra_channels < 0 || c->extra_channels >= u->in_channels ||
        (c->extra_channels > 0) != (c->extra != NULL))
        return sdc_fail(SDC_ERR_ARG, "unet: %d extra input channels for a unet of %d",
                        c->extra_channels, u->in_channels);
    if ((u->label_dim > 0) != (c->label != NULL))
        return sdc_fail(SDC_ERR_ARG, u->label_dim ? "unet: this unet needs a label (label_emb)"
                                                  : "unet: this unet takes no label");
    return SDC_OK;
}

/* emb [B, time.dim] += label_emb(label): SDXL's MLP, or a row of the class table. */
static sdc_status label_embedding(const sdc_unet *u, sdc_unet_pass *p, const float *label,
                                  float *emb)
{
    int D = u->time.dim, B = p->B;
    size_t mark = sdc_arena_mark(p->arena);
    float *a = sdc_arena_floats(p->arena, 2 * (size_t)B * D);
    if (!a)
        return nomem();
    if (u->classes) {
        size_t es = sdc_dtype_size(u->classes->dtype);
        for (int b = 0; b < B; b++) {
            float k = label[b];
            if (!(k >= 0 && k < (float)u->classes->shape[0]) || k != (float)(int)k) {
                sdc_arena_release(p->arena, mark);
                return sdc_fail(SDC_ERR_ARG, "unet: class label %g is not one of 0..%lld", k,
                                (long long)u->classes->shape[0] - 1);
            }
            const char *row = (const char *)u->classes->data + (size_t)k * D * es;
            sdc_convert_to_f32(a + (size_t)b * D, row, u->classes->dtype, (size_t)D);
        }
    } else {
        float *hidden = a + (size_t)B * D;
        if (sdc_layer_linear(&u->label1, hidden, label, B, p->arena)) // [B, D]
            return nomem();
        sdc_silu(hidden, (size_t)B * D);
        if (sdc_layer_linear(&u->label2, a, hidden, B, p->arena)) // [B, D]
            return nomem();
    }
    sdc_add(emb, emb, a, (size_t)B * D);
    sdc_arena_release(p->arena, mark);
    return SDC_OK;
}

/* p->temb = SiLU(time_embed(t) [+ label_emb(label)]): every resnet projects it after a SiLU.
 * Without a label one row serves the whole batch. */
static sdc_status time_embedding(sdc_unet *u, sdc_unet_pass *p, float t, const float *label)
{
    int D = u->time.dim, rows = label ? p->B : 1;
    float *temb = sdc_arena_floats(p->arena, (size_t)rows * D);
    size_t mark = sdc_arena_mark(p->arena);
    float *scratch = sdc_arena_floats(p->arena, (size_t)u->time.freq_dim + D);
    if (!temb || !scratch)
        return nomem();
    int bad = sdc_unet_time_embed_forward(&u->time, t, temb, scratch, p->arena);
    sdc_arena_release(p->arena, mark);
    if (bad)
        return nomem();
    for (int b = 1; b < rows; b++)
        memcpy(temb + (size_t)b * D, temb, (size_t)D * sizeof(float));
    if (label) {
        sdc_status s = label_embedding(u, p, label, temb);
        if (s != SDC_OK)
            return s;
    }
    sdc_silu(temb, (size_t)rows * D);
    p->temb = temb;
    p->temb_rows = rows;
    return SDC_OK;
}

/* `bytes` from the arena, aligned as its floats are (at least 8 bytes). */
static void *arena_bytes(sdc_arena *a, size_t bytes)
{
    return sdc_arena_floats(a, (bytes + sizeof(float) - 1) / sizeof(float));
}

/* The pass's skip arrays, from the arena. */
static sdc_status pass_skips(const sdc_unet *u, sdc_unet_pass *p)
{
    size_t n = (size_t)u->n_skip;
    p->skip = (float **)arena_bytes(p->arena, n * sizeof *p->skip);
    p->skip_h = (int *)arena_bytes(p->arena, n * sizeof(int));
    p->skip_w = (int *)arena_bytes(p->arena, n * sizeof(int));
    return p->skip && p->skip_h && p->skip_w ? SDC_OK : nomem();
}

/* conv_in's input: x itself, or [B, in_channels, h, w] = cat[x, extra] in the arena. */
static const float *unet_input(const sdc_unet *u, const sdc_unet_pass *p, const float *x,
                               const sdc_unet_cond *c, int h, int w)
{
    if (!c->extra)
        return x;
    int E = c->extra_channels, C = u->in_channels - E;
    float *cat = sdc_arena_floats(p->arena, (size_t)p->B * u->in_channels * h * w);
    if (cat)
        sdc_concat_channels(cat, x, C, c->extra, E, p->B, h * w); // [B, C + E, h, w]
    return cat;
}

/* skip[0] = conv_in(x) (+ h0_add), skip[i + 1] = input block i (skip[i]). */
static sdc_status encoder(const sdc_unet *u, const sdc_unet_pass *p, const float *x, int h, int w,
                          const float *h0_add)
{
    int B = p->B;
    p->skip_h[0] = h;
    p->skip_w[0] = w;
    p->skip[0] = sdc_arena_floats(p->arena, (size_t)B * u->skip_c[0] * h * w);
    if (!x || !p->skip[0] || sdc_layer_conv(&u->conv_in, p->skip[0], x, B, h, w, 1, 1,
                                            p->arena))
        return nomem();
    if (h0_add)
        sdc_add(p->skip[0], p->skip[0], h0_add, (size_t)B * u->skip_c[0] * h * w);
    for (int i = 0; i < u->n_input; i++) {
        const sdc_unet_block *b = &u->input[i];
        int H = p->skip_h[i], W = p->skip_w[i], Ho, Wo;
        sdc_unet_block_out_size(b, H, W, H, W, &Ho, &Wo);
        float *y = sdc_arena_floats(p->arena, (size_t)B * b->c_out * Ho * Wo);
        if (!y)
            return nomem();
        sdc_status s = sdc_unet_block_forward(b, p, y, p->skip[i], H, W, H, W);
        if (s != SDC_OK)
            return s;
        p->skip[i + 1] = y;
        p->skip_h[i + 1] = Ho;
        p->skip_w[i + 1] = Wo;
    }
    return SDC_OK;
}

/* ControlNet: residual i joins skip tensor i once neither the encoder nor the middle block
 * reads it any more (they see the plain tensors, as in diffusers). */
static void add_skip_residuals(const sdc_unet *u, const sdc_unet_pass *p,
                               const float *const *residuals)
{
    for (int i = 0; residuals && i < u->n_skip; i++)
        if (residuals[i])
            sdc_add(p->skip[i], p->skip[i], residuals[i],
                    (size_t)p->B * u->skip_c[i] * p->skip_h[i] * p->skip_w[i]);
}

/* Where decoder block j up-samples to: the size of the skip tensor block j + 1 takes. */
static void up_target(const sdc_unet *u, const sdc_unet_pass *p, int j, int H, int W,
                      int *up_h, int *up_w)
{
    int k = u->n_skip - 2 - j;
    *up_h = k >= 0 ? p->skip_h[k] : 2 * H;
    *up_w = k >= 0 ? p->skip_w[k] : 2 * W;
}

/* Largest middle / decoder block output, in floats. */
static size_t decoder_buffer_size(const sdc_unet *u, const sdc_unet_pass *p)
{
    int B = p->B, H = p->skip_h[u->n_skip - 1], W = p->skip_w[u->n_skip - 1];
    int c_mid = u->mid_resnet1.c_out > u->mid_resnet2.c_out ? u->mid_resnet1.c_out
                                                             : u->mid_resnet2.c_out;
    size_t most = (size_t)B * c_mid * H * W;
    for (int j = 0; j < u->n_output; j++) {
        const sdc_unet_block *b = &u->output[j];
        int up_h, up_w;
        up_target(u, p, j, H, W, &up_h, &up_w);
        sdc_unet_block_out_size(b, H, W, up_h, up_w, &H, &W);
        size_t n = (size_t)B * b->c_out * H * W;
        most = n > most ? n : most;
    }
    return most;
}

/* y [B, C, H, W] = middle block (last skip tensor); tmp is a buffer of the same size. */
static sdc_status middle(const sdc_unet *u, const sdc_unet_pass *p, float *y, float *tmp)
{
    int k = u->n_skip - 1, H = p->skip_h[k], W = p->skip_w[k];
    sdc_status s = sdc_unet_resnet_forward(&u->mid_resnet1, p, tmp, p->skip[k], H, W);
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
    if (p->skip_h[k] != H || p->skip_w[k] != W) /* excluded by the load-time level check */
        return sdc_fail(SDC_ERR_FORMAT, "unet: output block %d meets a %d x %d skip tensor at "
                        "%d x %d", j, p->skip_h[k], p->skip_w[k], H, W);
    sdc_status s = sdc_freeu_apply(&u->freeu, u->output_level[j], h, C, p->skip[k], Cs, p->B, H,
                                   W);
    if (s != SDC_OK)
        return s;
    size_t mark = sdc_arena_mark(p->arena);
    float *cat = sdc_arena_floats(p->arena, (size_t)p->B * (C + Cs) * H * W);
    if (!cat)
        return nomem();
    sdc_concat_channels(cat, h, C, p->skip[k], Cs, p->B, H * W); // [B, C + Cs, H, W]
    up_target(u, p, j, H, W, &up_h, &up_w);
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
    int bad = sdc_layer_conv(&u->conv_out, out, a, p->B, H, W, 1, 1, p->arena);
    sdc_arena_release(p->arena, mark);
    return bad ? nomem() : SDC_OK;
}

static sdc_status decoder(sdc_unet *u, const sdc_unet_pass *p,
                          const float *const *residuals, float *out)
{
    size_t n = decoder_buffer_size(u, p);
    float *buf[2] = {sdc_arena_floats(p->arena, n), sdc_arena_floats(p->arena, n)};
    if (!buf[0] || !buf[1])
        return nomem();
    int cur = 0, C = u->mid_resnet2.c_out;
    int H = p->skip_h[u->n_skip - 1], W = p->skip_w[u->n_skip - 1];
    sdc_status s = middle(u, p, buf[cur], buf[!cur]);
    if (s == SDC_OK && residuals) { /* after the middle block, which reads the last skip */
        add_skip_residuals(u, p, residuals);
        if (residuals[u->n_skip])
            sdc_add(buf[cur], buf[cur], residuals[u->n_skip], (size_t)p->B * C * H * W);
    }
    for (int j = 0; j < u->n_output && s == SDC_OK; j++) {
        const sdc_unet_block *b = &u->output[j];
        s = decoder_block(u, p, j, buf[!cur], buf[cur], C, H, W);
        int up_h, up_w;
        up_target(u, p, j, H, W, &up_h, &up_w);
        sdc_unet_block_out_size(b, H, W, up_h, up_w, &H, &W);
        C = b->c_out;
        cur = !cur;
    }
    if (s == SDC_OK)
        s = head(u, p, out, buf[cur], C, H, W);
    return s;
}

/* The start every pass shares: a fresh arena, the skip list, the time (and label)
 * embedding, and the encoder (h0_add: a ControlNet's hint added after conv_in, or NULL). */
static sdc_status encode_pass(sdc_unet *u, sdc_unet_pass *p, const float *x, int B, int h,
                              int w, float t, const sdc_unet_cond *c, const float *h0_add)
{
    sdc_arena_reset(&u->arena);
    *p = (sdc_unet_pass){.arena = &u->arena, .B = B, .context = c->context, .T = c->tokens};
    sdc_status s = pass_skips(u, p);
    if (s == SDC_OK)
        s = time_embedding(u, p, t, c->label);
    if (s == SDC_OK)
        s = encoder(u, p, unet_input(u, p, x, c, h, w), h, w, h0_add);
    return s;
}

sdc_status sdc_unet_forward(sdc_unet *u, const float *x, int B, int h, int w, float t,
                            const sdc_unet_cond *c, float *out)
{
    sdc_unet_pass p;
    sdc_status s = check_args(u, x, B, h, w, c, out);
    if (s == SDC_OK)
        s = encode_pass(u, &p, x, B, h, w, t, c, NULL);
    if (s == SDC_OK)
        s = decoder(u, &p, c->residuals, out);
    return s;
}

sdc_status sdc_unet_encode(sdc_unet *u, const float *x, int B, int h, int w, float t,
                           const sdc_unet_cond *c, const float *h0_add, const float **skips,
                           const float **mid)
{
    sdc_unet_pass p;
    sdc_status s = check_args(u, x, B, h, w, c, x);
    if (s == SDC_OK)
        s = encode_pass(u, &p, x, B, h, w, t, c, h0_add);
    if (s != SDC_OK)
        return s;
    int k = u->n_skip - 1;
    int c1 = u->mid_resnet1.c_out, c2 = u->mid_resnet2.c_out;
    size_t n = (size_t)B * (c1 > c2 ? c1 : c2) * p.skip_h[k] * p.skip_w[k];
    float *y = sdc_arena_floats(p.arena, n), *tmp = sdc_arena_floats(p.arena, n);
    if (!y || !tmp)
        return nomem();
    s = middle(u, &p, y, tmp);
    for (int i = 0; s == SDC_OK && i < u->n_skip; i++)
        skips[i] = p.skip[i];
    *mid = y;
    return s;
}
