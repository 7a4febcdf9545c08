#include "ops/layer.h"

#include <stdlib.h>

#include "ops/cpu.h"
#include "ops/error.h"
#include "ops/gemm_q8.h"
#include "ops/nn.h"

/* `floats` of scratch from the arena (released by the caller to its mark) or malloc. */
static float *scratch(sdc_arena *arena, size_t floats)
{
    return arena ? sdc_arena_floats(arena, floats) : malloc(floats * sizeof(float));
}

static void release(sdc_arena *arena, size_t mark, float *p)
{
    if (arena)
        sdc_arena_release(arena, mark);
    else
        free(p);
}

/* y [n] += scale * d [n] */
static void add_scaled(float *y, const float *d, float scale, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += scale * d[i];
}

int sdc_layer_linear(const sdc_layer *l, float *y, const float *x, int M, sdc_arena *arena)
{
    sdc_linear(y, x, M, &l->w, l->bias); // [M, out]
    for (const sdc_adapter *a = l->adapters; a; a = a->next) {
        size_t mark = arena ? sdc_arena_mark(arena) : 0;
        size_t nd = (size_t)M * a->down.rows, nu = (size_t)M * l->w.rows;
        float *buf = scratch(arena, nd + nu);
        if (!buf)
            return -1;
        sdc_linear(buf, x, M, &a->down, NULL);       // [M, rank]
        sdc_linear(buf + nd, buf, M, &a->up, NULL);  // [M, out]
        add_scaled(y, buf + nd, a->scale, nu);
        release(arena, mark, buf);
    }
    return 0;
}

int sdc_layer_conv(const sdc_layer *l, float *y, const float *x, int B, int H, int W,
                   int stride, int pad, sdc_arena *arena)
{
    if (sdc_conv2d(y, x, B, l->in, H, W, &l->w, l->bias, l->k, stride, pad, arena))
        return -1;
    int Ho = sdc_conv_out_size(H, l->k, stride, pad), Wo = sdc_conv_out_size(W, l->k, stride, pad);
    for (const sdc_adapter *a = l->adapters; a; a = a->next) {
        size_t mark = arena ? sdc_arena_mark(arena) : 0;
        size_t nd = (size_t)B * a->down.rows * Ho * Wo, nu = (size_t)B * l->w.rows * Ho * Wo;
        float *buf = scratch(arena, nd + nu);
        int bad = !buf;
        if (!bad) // [B, rank, Ho, Wo] then [B, out, Ho, Wo]
            bad = sdc_conv2d(buf, x, B, l->in, H, W, &a->down, NULL, l->k, stride, pad, arena) ||
                  sdc_conv2d(buf + nd, buf, B, a->down.rows, Ho, Wo, &a->up, NULL, 1, 1, 0,
                             arena);
        if (!bad)
            add_scaled(y, buf + nd, a->scale, nu);
        if (buf)
            release(arena, mark, buf);
        if (bad)
            return -1;
    }
    return 0;
}

sdc_status sdc_layer_add_adapter(sdc_layer *l, sdc_adapter *a)
{
    int rank = a->down.rows;
    if (rank < 1 || a->down.cols != l->w.cols || a->up.rows != l->w.rows || a->up.cols != rank)
        return sdc_fail(SDC_ERR_FORMAT, "adapter down [%d, %d] / up [%d, %d] does not fit a "
                        "[%d, %d] layer", a->down.rows, a->down.cols, a->up.rows, a->up.cols,
                        l->w.rows, l->w.cols);
    sdc_adapter **end = &l->adapters;
    while (*end)
        end = &(*end)->next;
    a->next = NULL;
    *end = a;
    return SDC_OK;
}

void sdc_layer_clear_adapters(sdc_layer *l)
{
    while (l->adapters) {
        sdc_adapter *a = l->adapters;
        l->adapters = a->next;
        sdc_weight_free(&a->down);
        sdc_weight_free(&a->up);
        free(a);
    }
}

sdc_status sdc_layer_prefer_int8(sdc_layer *l)
{
    if (sdc_precision_get() != SDC_PRECISION_INT8 || l->k != 1 || l->w.cols % 32 ||
        sdc_gemm_q8_reads(l->w.quant))
        return SDC_OK;
    return sdc_weight_to_q8_0(&l->w);
}

void sdc_layer_free(sdc_layer *l)
{
    sdc_layer_clear_adapters(l);
    sdc_weight_free(&l->w);
    free(l->bias);
    l->bias = NULL;
}

void sdc_norm_free(sdc_norm *n)
{
    free(n->gamma);
    free(n->beta);
    n->gamma = n->beta = NULL;
}
