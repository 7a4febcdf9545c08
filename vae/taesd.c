/* TAESD decode and encode passes (vae/taesd.h): one walk over a half's layers with three
 * activation buffers from the arena, each as large as the largest activation of the pass. */
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

/* Floats each of the three buffers needs: the largest activation of the pass. */
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

/* buf[0] [B, C, H, W] = Block(buf[0]); buf[1] and buf[2] are scratch (and trade places). */
static sdc_status block(const sdc_taesd_op *op, sdc_arena *a, int B, float *buf[3], int H,
                        int W)
{
    sdc_status s = fused(&op->conv[0], a, B, buf[1], buf[0], H, W, 0, NULL, 1); // [B, C, H, W]
    if (s == SDC_OK)
        s = fused(&op->conv[1], a, B, buf[2], buf[1], H, W, 0, NULL, 1);
    if (s == SDC_OK) /* ReLU(conv + x) into buf[1], which becomes the activation */
        s = fused(&op->conv[2], a, B, buf[1], buf[2], H, W, 0, buf[0], 1);
    float *t = buf[0];
    buf[0] = buf[1];
    buf[1] = t;
    return s;
}

/* A conv layer from buf[0]: the decoder's upsampling conv reads it through the nearest 2x
 * resize (encoder: stride 2); the result goes to `out` when given (the last layer), else
 * becomes buf[0]. */
static sdc_status conv_op(const sdc_taesd_op *op, int up, sdc_arena *a, int B, float *buf[3],
                          int *H, int *W, float *out)
{
    float *dst = out ? out : buf[1];
    sdc_status s;
    if (up || !op->resample) {
        int twice = op->resample && up, h = *H, w = *W;
        const float *src = buf[0];
        *H = twice ? 2 * h : h;
        *W = twice ? 2 * w : w;
        if (twice && !sdc_conv3x3_direct(&op->conv[0].w)) { /* resized into the free buffer */
            sdc_upsample_nearest(buf[2], buf[0], B, op->conv[0].in, h, w, *H, *W);
            src = buf[2], h = *H, w = *W, twice = 0;
        }
        s = fused(&op->conv[0], a, B, dst, src, h, w, twice, NULL, op->relu);
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
static sdc_status run(const sdc_taesd_net *n, int up, sdc_arena *a, int B, float *buf[3], int H,
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

/* buf[0..2] = three buffers of `cap` floats from the arena (reset first: one pass at a time). */
static sdc_status buffers(sdc_taesd *t, size_t cap, float *buf[3])
{
    sdc_arena_reset(&t->arena);
    for (int i = 0; i < 3; i++)
        if (!(buf[i] = sdc_arena_floats(&t->arena, cap))) {
            sdc_arena_reset(&t->arena);
            return sdc_fail(SDC_ERR_NOMEM, "taesd: out of memory for %zu MiB of activations",
                            3 * cap * sizeof(float) >> 20);
        }
    return SDC_OK;
}

sdc_status sdc_taesd_decode(sdc_taesd *t, const float *latent, int B, int h, int w,
                            float *image)
{
    if (!t->has_decoder)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "taesd: no decoder loaded");
    sdc_status s = check_size("decode", B, h, w);
    float *buf[3];
    if (s == SDC_OK)
        s = buffers(t, buffer_floats(&t->dec, 1, B, h, w), buf);
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
    float *buf[3];
    if (s == SDC_OK)
        s = buffers(t, buffer_floats(&t->enc, 0, B, H, W), buf);
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
