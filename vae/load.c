#include "vae/load.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/error.h"
#include "ops/nn.h"

void sdc_vae_name(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, SDC_VAE_NAME_MAX, fmt, ap);
    va_end(ap);
}

/* "<prefix>.<suffix>.<leaf>"; 0 when it does not fit. */
static int full_name(char *buf, size_t size, const char *prefix, const char *suffix,
                     const char *leaf)
{
    int n = snprintf(buf, size, "%s%s%s.%s", prefix, suffix ? "." : "", suffix ? suffix : "",
                     leaf);
    return n > 0 && (size_t)n < size;
}

static sdc_status require(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                          const char *leaf, char *name, size_t size, const sdc_tensor **t)
{
    if (!full_name(name, size, prefix, suffix, leaf))
        return sdc_fail(SDC_ERR_ARG, "%s: vae tensor name too long: %s.%s",
                        sdc_checkpoint_path(ck), prefix, suffix ? suffix : "");
    return sdc_checkpoint_require(ck, SDC_COMPONENT_VAE, name, t);
}

int sdc_vae_has(const sdc_checkpoint *ck, const char *prefix, const char *suffix)
{
    char name[256];
    if (!full_name(name, sizeof name, prefix, suffix, "weight"))
        return 0;
    return sdc_checkpoint_get(ck, SDC_COMPONENT_VAE, name) != NULL;
}

/* The ops/ loaders name the tensor but not the file. */
static sdc_status with_path(const sdc_checkpoint *ck, sdc_status s)
{
    if (s != SDC_OK)
        sdc_error_prefix("%s", sdc_checkpoint_path(ck));
    return s;
}

static int dim_ok(int64_t d) { return d >= 1 && d <= SDC_VAE_MAX_DIM; }

/* [out, in, k, k], or [out, in] when k == 1; in < 0 matches any width. */
static int layer_shape_ok(const sdc_tensor *t, int in, int k)
{
    int linear = t->ndim == 2 && k == 1;
    if (!(t->ndim == 4 && t->shape[2] == k && t->shape[3] == k) && !linear)
        return 0;
    return dim_ok(t->shape[0]) && dim_ok(t->shape[1]) && (in < 0 || t->shape[1] == in);
}

sdc_status sdc_vae_layer_load(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                              int in, int k, sdc_vae_layer *l)
{
    char name[256];
    const sdc_tensor *t;
    l->w.data = NULL;
    l->bias = NULL;
    sdc_status s = require(ck, prefix, suffix, "weight", name, sizeof name, &t);
    if (s != SDC_OK)
        return s;
    if (!layer_shape_ok(t, in, k)) {
        char want[32] = "in";
        if (in >= 0)
            snprintf(want, sizeof want, "%d", in);
        return sdc_fail(SDC_ERR_FORMAT,
                        "%s: vae tensor '%s' has an unexpected shape (want [out, %s, %d, %d])",
                        sdc_checkpoint_path(ck), name, want, k, k);
    }
    l->out = (int)t->shape[0];
    l->in = (int)t->shape[1];
    l->k = k;
    s = with_path(ck, sdc_weight_load(&l->w, t, l->out, l->in * k * k, name));
    if (s == SDC_OK)
        s = require(ck, prefix, suffix, "bias", name, sizeof name, &t);
    if (s == SDC_OK)
        s = with_path(ck, sdc_vector_load(&l->bias, t, l->out, name));
    if (s != SDC_OK)
        sdc_vae_layer_free(l);
    return s;
}

void sdc_vae_layer_free(sdc_vae_layer *l)
{
    sdc_weight_free(&l->w);
    free(l->bias);
    l->bias = NULL;
}

sdc_status sdc_vae_check_out(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                             const sdc_vae_layer *l, int want)
{
    if (l->out == want)
        return SDC_OK;
    return sdc_fail(SDC_ERR_FORMAT, "%s: vae tensor '%s%s%s.weight' has %d outputs, want %d",
                    sdc_checkpoint_path(ck), prefix, suffix ? "." : "", suffix ? suffix : "",
                    l->out, want);
}

sdc_status sdc_vae_norm_load(const sdc_checkpoint *ck, const char *prefix, const char *suffix,
                             int channels, sdc_vae_norm *n)
{
    char name[256];
    const sdc_tensor *t;
    n->gamma = n->beta = NULL;
    if (channels % SDC_VAE_GROUPS != 0)
        return sdc_fail(SDC_ERR_UNSUPPORTED,
                        "%s: vae norm '%s.%s' has %d channels, not a multiple of %d groups",
                        sdc_checkpoint_path(ck), prefix, suffix, channels, SDC_VAE_GROUPS);
    sdc_status s = require(ck, prefix, suffix, "weight", name, sizeof name, &t);
    if (s == SDC_OK)
        s = with_path(ck, sdc_vector_load(&n->gamma, t, channels, name));
    if (s == SDC_OK)
        s = require(ck, prefix, suffix, "bias", name, sizeof name, &t);
    if (s == SDC_OK)
        s = with_path(ck, sdc_vector_load(&n->beta, t, channels, name));
    if (s != SDC_OK)
        sdc_vae_norm_free(n);
    return s;
}

void sdc_vae_norm_free(sdc_vae_norm *n)
{
    free(n->gamma);
    free(n->beta);
    n->gamma = n->beta = NULL;
}

sdc_status sdc_vae_conv(const sdc_vae_layer *l, const sdc_vae_pass *p, float *y, const float *x,
                        int H, int W, int stride, int pad)
{
    if (sdc_conv2d(y, x, p->B, l->in, H, W, &l->w, l->bias, l->k, stride, pad, p->arena))
        return sdc_fail(SDC_ERR_NOMEM, "vae: out of memory for convolution scratch");
    return SDC_OK;
}

sdc_status sdc_vae_nomem(const sdc_vae_pass *p, size_t mark, const char *what)
{
    sdc_arena_release(p->arena, mark);
    return sdc_fail(SDC_ERR_NOMEM, "vae: out of memory for %s activations", what);
}

void sdc_vae_group_norm(const sdc_vae_pass *p, float *y, const float *x, int C, int HW,
                        const sdc_vae_norm *n, int silu)
{
    sdc_group_norm(y, x, p->B, C, HW, SDC_VAE_GROUPS, n->gamma, n->beta, SDC_VAE_NORM_EPS, silu);
}
