/* TAESD decode and encode passes (vae/taesd.h): one walk over a half's layers with two
 * activation buffers, each as large as the largest activation of the pass, and the
 * convolutions' scratch, all from one block of the arena reserved up front. A cold pass pays
 * about 1 ms per MiB it touches first (docs/PERFORMANCE.md, "First touch"), so the pass
 * keeps that memory small: Blocks work in place (sdc_conv3x3_fused lets y be x or the
 * residual), and every convolution reuses the one scratch region. */
#include <math.h>
#include <string.h>

#include "ops/error.h"
#include "ops/nn.h"
#include "vae/taesd_impl.h"

/* Largest batch accepted (keeps every size product far from overflow). */
#define MAX_BATCH 4096
/* The decoder's input clamp: x = 3 tanh(x / 3) keeps latents in (-3, 3). */
#define LATENT_MAGNITUDE 3.0f

/* Size after op: the decoder's resampling conv doubles (nearest 2x first), the encoder's
 * halves rounding up (stride 2, padding 1). */
static void op_out_size(const sdc_taesd_op *op, int up, int *H, int *W)
{
    if (op->block || !op->resample)
        return;
    *H = up ? 2 * *H : sdc_conv_out_size(*H, 3, 2, 1);
    *W = up ? 2 * *W : sdc_conv_out_size(*W, 3, 2, 1);
}

/* Floats each of the two buffers needs: the largest activation of the pass. */
static size_t buffer_floats(const sdc_taesd_net *n, int up, int B, int H, int W)
{
    size_t most = (size_t)n->in_channels * H * W;
    for (int i = 0; i < n->n_ops; i++) {
        op_out_size(&n->ops[i], up, &H, &W);
        size_t c = (size_t)n->max_channels * H * W;
        most = c > most ? c : most;
    }
    return (size_t)B * most;
}

static size_t larger(size_t a, size_t b) { return a > b ? a : b; }

/* Floats of scratch the pass's largest direct 3x3 convolution takes. Convolutions of other
 * kinds (the encoder's strided ones, the separate passes where the direct kernel does not
 * apply) take theirs beyond the reserve, as before, so a CPU without the direct kernel does
 * not hold a reserve it never uses. */
static size_t scratch_floats(const sdc_taesd_net *n, int up, int B, int H, int W)
{
    size_t most = 0;
    for (int i = 0; i < n->n_ops; i++) {
        const sdc_taesd_op *op = &n->ops[i];
        int twice = up && op->resample && !op->block;
        for (int k = 0; k < (op->block ? 3 : 1) && (up || !op->resample); k++)
            if (sdc_conv3x3_direct(&op->conv[k].w))
                most = larger(most, sdc_conv3x3_fused_scratch(B, op->conv[k].in,
                                                              op->conv[k].w.rows, H, W, twice));
        op_out_size(op, up, &H, &W);
    }
    return most;
}

static sdc_status conv(const sdc_layer *l, sdc_arena *a, int B, float *y, const float *x,
                       int H, int W, int stride)
{
    if (sdc_layer_conv(l, y, x, B, H, W, stride, 1, a))
        return sdc_fail(SDC_ERR_NOMEM, "taesd: out of memory for convolution scratch");
    return SDC_OK;
}

/* y = act(conv(up(x)) + bias + residual) (sdc_conv3x3_fused): the decoder's ReLUs, residual
 * joins and upsamples ride on its convolutions. TAESD layers never carry adapters. */
static sdc_status fused(const sdc_layer *l, sdc_arena *a, int B, float *y, const float *x,
                        int H, int W, int up, const float *residual, int relu)
{
    if (sdc_conv3x3_fused(y, x, B, l->in, H, W, up, &l->w, l->bias, residual, relu, a))
        return sdc_fail(SDC_ERR_NOMEM, "taesd: out of memory for convolution scratch");
    return SDC_OK;
}

/* buf[0] [B, C, H, W] = Block(buf[0]) in place; buf[1] is scratch. */
static sdc_status block(const sdc_taesd_op *op, sdc_arena *a, int B, float *buf[2], int H,
                        int W)
{
    sdc_status s = fused(&op->conv[0], a, B, buf[1], buf[0], H, W, 0, NULL, 1); // [B, C, H, W]
    if (s == SDC_OK) /* in place: y may be x */
        s = fused(&op->conv[1], a, B, buf[1], buf[1], H, W, 0, NULL, 1);
    if (s == SDC_OK) /* ReLU(conv + x) back into x: y may be the residual */
        s = fused(&op->conv[2], a, B, buf[0], buf[1], H, W, 0, buf[0], 1);
    return s;
}

/* A conv layer from buf[0]: the decoder's upsampling conv reads it through the nearest 2x
 * resize (encoder: stride 2); the result goes to `out` when given (the last layer), else
 * becomes buf[0]. */
static sdc_status conv_op(const sdc_taesd_op *op, int up, sdc_arena *a, int B, float *buf[2],
                          int *H, int *W, float *out)
{
    float *dst = out ? out : buf[1];
    sdc_status s;
    if (up || !op->resample) {
        int twice = op->resample && up, h = *H, w = *W;
        *H = twice ? 2 * h : h;
        *W = twice ? 2 * w : w;
        s = fused(&op->conv[0], a, B, dst, buf[0], h, w, twice, NULL, op->relu);
    } else { // [B, out, ceil(H / 2), ceil(W / 2)]
        s = conv(&op->conv[0], a, B, dst, buf[0], *H, *W, 2);
        *H = sdc_conv_out_size(*H, 3, 2, 1);
        *W = sdc_conv_out_size(*W, 3, 2, 1);
        if (s == SDC_OK && op->relu)
            sdc_relu(dst, (size_t)B * op->conv[0].w.rows * *H * *W);
    }
    if (!out) { /* dst becomes the current activation; the old one is free */
        buf[1] = buf[0];
        buf[0] = dst;
    }
    return s;
}

/* out [B, n->out, H', W'] = net n applied to buf[0] [B, n->in, H, W]. */
static sdc_status run(const sdc_taesd_net *n, int up, sdc_arena *a, int B, float *buf[2], int H,
                      int W, float *out)
{
    sdc_status s = SDC_OK;
    for (int i = 0; i < n->n_ops && s == SDC_OK; i++) {
        const sdc_taesd_op *op = &n->ops[i];
        s = op->block ? block(op, a, B, buf, H, W)
                      : conv_op(op, up, a, B, buf, &H, &W, i == n->n_ops - 1 ? out : NULL);
    }
    return s;
}

static sdc_status check_size(const char *what, int B, int h, int w)
{
    if (B < 1 || B > MAX_BATCH || h < 1 || w < 1 || h > SDC_TAESD_MAX_LATENT_SIDE ||
        w > SDC_TAESD_MAX_LATENT_SIDE)
        return sdc_fail(SDC_ERR_ARG, "taesd %s: batch %d of %dx%d latents is out of range", what,
                        B, w, h);
    return SDC_OK;
}

/* Slack per arena allocation for its 64-byte alignment. */
#define ALIGN_FLOATS 16

/* buf[0..1] = two buffers of `cap` floats from the arena (reset first: one pass at a time),
 * in one block that also holds `scratch` floats for the convolutions after them: the whole
 * is taken once and given back, so the arena's block has that size and the buffers and
 * every convolution's scratch are carved from it (no block mapped anew mid-pass). */
static sdc_status buffers(sdc_taesd *t, size_t cap, size_t scratch, float *buf[2])
{
    sdc_arena_reset(&t->arena);
    size_t all = 2 * (cap + ALIGN_FLOATS) + scratch + ALIGN_FLOATS;
    int ok = sdc_arena_floats(&t->arena, all) != NULL;
    sdc_arena_release(&t->arena, 0);
    for (int i = 0; i < 2 && ok; i++)
        ok = (buf[i] = sdc_arena_floats(&t->arena, cap)) != NULL;
    if (ok)
        return SDC_OK;
    sdc_arena_reset(&t->arena);
    return sdc_fail(SDC_ERR_NOMEM, "taesd: out of memory for %zu MiB of activations",
                    all * sizeof(float) >> 20);
}

sdc_status sdc_taesd_decode(sdc_taesd *t, const float *latent, int B, int h, int w,
                            float *image)
{
    if (!t->has_decoder)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "taesd: no decoder loaded");
    sdc_status s = check_size("decode", B, h, w);
    float *buf[2];
    if (s == SDC_OK)
        s = buffers(t, buffer_floats(&t->dec, 1, B, h, w), scratch_floats(&t->dec, 1, B, h, w),
                    buf);
    if (s != SDC_OK)
        return s;
    size_t n = (size_t)B * t->dec.in_channels * h * w;
    for (size_t i = 0; i < n; i++) // [B, zc, h, w]
        buf[0][i] = LATENT_MAGNITUDE * tanhf(latent[i] / LATENT_MAGNITUDE);
    s = run(&t->dec, 1, &t->arena, B, buf, h, w, image); // [B, 3, 8h, 8w] in about [0, 1]
    size_t pixels = (size_t)B * 3 * 64 * h * w;
    for (size_t i = 0; s == SDC_OK && i < pixels; i++)
        image[i] = 2.0f * image[i] - 1.0f;
    sdc_arena_reset(&t->arena);
    return s;
}

void sdc_taesd_latent_size(int H, int W, int *h, int *w)
{
    *h = (H + 7) / 8;
    *w = (W + 7) / 8;
}

sdc_status sdc_taesd_encode(sdc_taesd *t, const float *image, int B, int H, int W,
                            float *latent)
{
    if (!t->has_encoder)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "taesd: no encoder loaded");
    int h, w;
    sdc_taesd_latent_size(H, W, &h, &w);
    sdc_status s = check_size("encode", B, h, w);
    float *buf[2];
    if (s == SDC_OK)
        s = buffers(t, buffer_floats(&t->enc, 0, B, H, W), scratch_floats(&t->enc, 0, B, H, W),
                    buf);
    if (s != SDC_OK)
        return s;
    size_t n = (size_t)B * 3 * H * W;
    for (size_t i = 0; i < n; i++) // [B, 3, H, W] in [0, 1]
        buf[0][i] = (image[i] + 1.0f) * 0.5f;
    s = run(&t->enc, 0, &t->arena, B, buf, H, W, latent); // [B, zc, h, w]
    sdc_arena_reset(&t->arena);
    return s;
}

size_t sdc_taesd_arena_peak(const sdc_taesd *t) { return t->arena.peak; }

double sdc_taesd_decode_flops(const sdc_taesd *t, int h, int w)
{
    double flops = 0;
    for (int i = 0; t->has_decoder && i < t->dec.n_ops; i++) {
        const sdc_taesd_op *op = &t->dec.ops[i];
        op_out_size(op, 1, &h, &w);
        for (int j = 0; j < (op->block ? 3 : 1); j++)
            flops += 2.0 * op->conv[j].w.rows * op->conv[j].w.cols * h * w;
    }
    return flops;
}
