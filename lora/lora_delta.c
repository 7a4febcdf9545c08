/* The change an adapter makes to its layer's weight W [out, cols = in * k * k]
 * (AUTOMATIC1111 extensions-builtin/Lora/network_{lora,hada,lokr,full}.py, LyCORIS):
 *
 *   lora    up [out, r] @ down [r, cols]
 *   tucker  up [out, n] . mid [n, m, k, k] . down [m, in]   (LoCon with lora_mid)
 *   loha    (w1_a @ w1_b) * (w2_a @ w2_b), element-wise
 *   lokr    kron(w1, w2), each factor given whole or as a product _a @ _b
 *   diff    the difference itself
 *
 * Files are untrusted: every shape is checked against the layer before anything is
 * allocated, so a malformed file gets an error naming it, never a huge allocation. */
#include <math.h>
#include <stdlib.h>

#include "lora/lora_impl.h"
#include "ops/dtype.h"
#include "ops/error.h"

#define T(slot) (a->part[slot] ? &a->part[slot]->tensor : NULL)

int sdc_lora_adapter_kind(const sdc_lora_adapter *a)
{
    if (a->part[LORA_DIFF])
        return SDC_LORA_KIND_DIFF;
    if (a->part[HADA_W1A] && a->part[HADA_W1B] && a->part[HADA_W2A] && a->part[HADA_W2B])
        return SDC_LORA_KIND_LOHA;
    int w1 = a->part[LOKR_W1] || (a->part[LOKR_W1A] && a->part[LOKR_W1B]);
    int w2 = a->part[LOKR_W2] || (a->part[LOKR_W2A] && a->part[LOKR_W2B]);
    if (w1 && w2)
        return SDC_LORA_KIND_LOKR;
    if (a->part[LORA_DOWN] && a->part[LORA_UP])
        return a->part[LORA_MID] ? SDC_LORA_KIND_TUCKER : SDC_LORA_KIND_LORA;
    return -1;
}

static int64_t rows_of(const sdc_tensor *t) { return t->ndim > 0 ? t->shape[0] : 1; }

static int64_t cols_of(const sdc_tensor *t)
{
    int64_t r = rows_of(t);
    return r > 0 ? sdc_tensor_numel(t) / r : 0;
}

/* The rank that alpha is divided by: AUTOMATIC1111's `dim` of each kind, 0 for none. */
static int64_t kind_dim(const sdc_lora_adapter *a, int kind)
{
    switch (kind) {
    case SDC_LORA_KIND_LORA:
    case SDC_LORA_KIND_TUCKER: return rows_of(T(LORA_DOWN));
    case SDC_LORA_KIND_LOHA: return rows_of(T(HADA_W1B));
    case SDC_LORA_KIND_LOKR:
        return a->part[LOKR_W2B]   ? rows_of(T(LOKR_W2B))
               : a->part[LOKR_W1B] ? rows_of(T(LOKR_W1B))
                                   : 0;
    }
    return 0;
}

sdc_status sdc_lora_scale(const sdc_lora_adapter *a, int kind, const char *path, float *scale)
{
    *scale = 1.0f;
    const sdc_tensor *alpha = T(LORA_ALPHA);
    int64_t dim = kind_dim(a, kind);
    if (!alpha || dim <= 0)
        return SDC_OK;
    if (sdc_tensor_numel(alpha) != 1 || !sdc_dtype_is_weight(alpha->dtype))
        return sdc_fail(SDC_ERR_FORMAT, "%s: alpha of '%s' is not a single float", path,
                        a->module);
    float v;
    sdc_convert_to_f32(&v, alpha->data, alpha->dtype, 1);
    if (!isfinite(v))
        return sdc_fail(SDC_ERR_FORMAT, "%s: alpha of '%s' is not a finite number", path,
                        a->module);
    *scale = v / (float)dim;
    return SDC_OK;
}

/* A new f32 copy of a float tensor (its size is bounded by the mapped file). */
static float *to_f32(const sdc_tensor *t)
{
    if (!sdc_dtype_is_weight(t->dtype))
        return NULL;
    size_t n = (size_t)sdc_tensor_numel(t);
    float *f = malloc((n ? n : 1) * sizeof *f);
    if (f)
        sdc_convert_to_f32(f, t->data, t->dtype, n);
    return f;
}

/* c [m, n] = a [m, k] @ b [k, n] */
static void matmul(float *c, const float *a, const float *b, int64_t m, int64_t k, int64_t n)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < m; i++) {
        float *row = c + i * n;
        for (int64_t j = 0; j < n; j++)
            row[j] = 0.0f;
        for (int64_t r = 0; r < k; r++) {
            float s = a[i * k + r];
            for (int64_t j = 0; j < n; j++)
                row[j] += s * b[r * n + j];
        }
    }
}

static sdc_status bad_shape(const sdc_lora_adapter *a, const sdc_layer *l, const char *path,
                            const char *what)
{
    return sdc_fail(SDC_ERR_FORMAT, "%s: %s of '%s' does not fit its layer [%d, %d]", path,
                    what, a->module, l->w.rows, l->w.cols);
}

/* The status of a delta built from factors: a shape mismatch names the parts. */
static sdc_status factors_status(sdc_status st, const sdc_lora_adapter *a, const sdc_layer *l,
                                 const char *path, const char *parts)
{
    if (st == SDC_ERR_FORMAT)
        return bad_shape(a, l, path, parts);
    return st == SDC_OK ? SDC_OK : sdc_fail(st, "%s: out of memory", path);
}

/* A product of two factors, p [m, n] = x [m, r] @ y [r, n], shapes checked against m, n.
 * Returns NULL (and sets *st) on a mismatch or out of memory. */
static float *product(const sdc_tensor *x, const sdc_tensor *y, int64_t m, int64_t n,
                      sdc_status *st)
{
    int64_t r = rows_of(y);
    *st = SDC_ERR_FORMAT;
    if (r <= 0 || rows_of(x) != m || cols_of(x) != r || cols_of(y) != n)
        return NULL;
    float *fx = to_f32(x), *fy = to_f32(y), *p = malloc((size_t)(m * n) * sizeof *p);
    *st = fx && fy && p ? SDC_OK : SDC_ERR_NOMEM;
    if (*st == SDC_OK)
        matmul(p, fx, fy, m, r, n);
    free(fx);
    free(fy);
    if (*st != SDC_OK) {
        free(p);
        return NULL;
    }
    return p;
}

/* A LoKr factor given whole (`whole`) or as a product of `pa` @ `pb`: [m, n] with m, n read
 * from the file, both positive and m * n at most `limit`. */
static float *lokr_factor(const sdc_tensor *whole, const sdc_tensor *pa, const sdc_tensor *pb,
                          int64_t limit, int64_t *m, int64_t *n, sdc_status *st)
{
    *m = whole ? rows_of(whole) : rows_of(pa);
    *n = whole ? cols_of(whole) : cols_of(pb);
    *st = SDC_ERR_FORMAT;
    if (*m <= 0 || *n <= 0 || *m > limit || *n > limit || *m * *n > limit)
        return NULL;
    if (!whole)
        return product(pa, pb, *m, *n, st);
    float *f = to_f32(whole);
    *st = f ? SDC_OK : SDC_ERR_NOMEM;
    return f;
}

static sdc_status delta_lora(const sdc_lora_adapter *a, const sdc_layer *l, const char *path,
                             float *d)
{
    int64_t out = l->w.rows, cols = l->w.cols, r = rows_of(T(LORA_DOWN));
    if (r <= 0 || r > out || r > cols)
        return bad_shape(a, l, path, "the rank");
    sdc_status st;
    float *p = product(T(LORA_UP), T(LORA_DOWN), out, cols, &st);
    if (!p)
        return factors_status(st, a, l, path, "up / down");
    for (int64_t i = 0; i < out * cols; i++)
        d[i] = p[i];
    free(p);
    return SDC_OK;
}

static sdc_status delta_tucker(const sdc_lora_adapter *a, const sdc_layer *l, const char *path,
                               float *d)
{
    const sdc_tensor *down = T(LORA_DOWN), *mid = T(LORA_MID), *up = T(LORA_UP);
    int64_t out = l->w.rows, in = l->in, kk = (int64_t)l->k * l->k;
    int64_t m = rows_of(down), n = rows_of(mid);
    if (m <= 0 || n <= 0 || m > in || n > out || cols_of(down) != in || mid->ndim != 4 ||
        mid->shape[1] != m || mid->shape[2] * mid->shape[3] != kk || rows_of(up) != out ||
        cols_of(up) != n)
        return bad_shape(a, l, path, "down / mid / up");
    float *fd = to_f32(down), *fm = to_f32(mid), *fu = to_f32(up);
    float *um = malloc((size_t)(out * m * kk) * sizeof *um); /* [out, m, kk] = up . mid */
    sdc_status st = fd && fm && fu && um ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    if (st == SDC_OK) {
        matmul(um, fu, fm, out, n, m * kk);
        for (int64_t i = 0; i < out; i++)
            for (int64_t j = 0; j < in; j++)
                for (int64_t s = 0; s < kk; s++) {
                    float acc = 0.0f;
                    for (int64_t q = 0; q < m; q++)
                        acc += um[(i * m + q) * kk + s] * fd[q * in + j];
                    d[(i * in + j) * kk + s] = acc;
                }
    }
    free(fd), free(fm), free(fu), free(um);
    return st;
}

static sdc_status delta_loha(const sdc_lora_adapter *a, const sdc_layer *l, const char *path,
                             float *d)
{
    int64_t out = l->w.rows, cols = l->w.cols;
    sdc_status s1, s2;
    float *p1 = product(T(HADA_W1A), T(HADA_W1B), out, cols, &s1);
    float *p2 = p1 ? product(T(HADA_W2A), T(HADA_W2B), out, cols, &s2) : NULL;
    sdc_status st = p1 && p2 ? SDC_OK : (p1 ? s2 : s1);
    if (st == SDC_OK)
        for (int64_t i = 0; i < out * cols; i++)
            d[i] = p1[i] * p2[i];
    free(p1), free(p2);
    return factors_status(st, a, l, path, "hada_w1 / hada_w2");
}

static sdc_status delta_lokr(const sdc_lora_adapter *a, const sdc_layer *l, const char *path,
                             float *d)
{
    int64_t out = l->w.rows, cols = l->w.cols, am, an, bm, bn;
    sdc_status s1, s2 = SDC_ERR_FORMAT;
    float *w1 = lokr_factor(T(LOKR_W1), T(LOKR_W1A), T(LOKR_W1B), out * cols, &am, &an, &s1);
    float *w2 = w1 ? lokr_factor(T(LOKR_W2), T(LOKR_W2A), T(LOKR_W2B), out * cols, &bm, &bn, &s2)
                   : NULL;
    sdc_status st = w1 && w2 ? SDC_OK : (w1 ? s2 : s1);
    if (st == SDC_OK && (am * bm != out || an * bn != cols))
        st = SDC_ERR_FORMAT;
    if (st == SDC_OK)
        for (int64_t i = 0; i < am; i++)
            for (int64_t j = 0; j < bm; j++)
                for (int64_t p = 0; p < an; p++)
                    for (int64_t q = 0; q < bn; q++)
                        d[(i * bm + j) * cols + p * bn + q] = w1[i * an + p] * w2[j * bn + q];
    free(w1), free(w2);
    return factors_status(st, a, l, path, "lokr_w1 / lokr_w2");
}

static sdc_status delta_diff(const sdc_lora_adapter *a, const sdc_layer *l, const char *path,
                             float *d)
{
    const sdc_tensor *t = T(LORA_DIFF);
    if (rows_of(t) != l->w.rows || cols_of(t) != l->w.cols || !sdc_dtype_is_weight(t->dtype))
        return bad_shape(a, l, path, "diff");
    sdc_convert_to_f32(d, t->data, t->dtype, (size_t)l->w.rows * l->w.cols);
    return SDC_OK;
}

sdc_status sdc_lora_delta(const sdc_lora_adapter *a, int kind, const sdc_layer *l,
                          const char *path, float **delta)
{
    *delta = malloc((size_t)l->w.rows * l->w.cols * sizeof **delta);
    if (!*delta)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory for '%s'", path, a->module);
    sdc_status st = SDC_ERR_FORMAT;
    switch (kind) {
    case SDC_LORA_KIND_LORA: st = delta_lora(a, l, path, *delta); break;
    case SDC_LORA_KIND_TUCKER: st = delta_tucker(a, l, path, *delta); break;
    case SDC_LORA_KIND_LOHA: st = delta_loha(a, l, path, *delta); break;
    case SDC_LORA_KIND_LOKR: st = delta_lokr(a, l, path, *delta); break;
    case SDC_LORA_KIND_DIFF: st = delta_diff(a, l, path, *delta); break;
    }
    if (st != SDC_OK) {
        free(*delta);
        *delta = NULL;
    }
    return st;
}

sdc_status sdc_lora_runtime_adapter(const sdc_lora_adapter *a, const sdc_layer *l,
                                    const char *path, float scale, sdc_adapter **out)
{
    const sdc_tensor *down = T(LORA_DOWN), *up = T(LORA_UP);
    int64_t r = rows_of(down);
    *out = NULL;
    if (r <= 0 || r > l->w.rows || r > l->w.cols || cols_of(down) != l->w.cols ||
        rows_of(up) != l->w.rows || cols_of(up) != r)
        return bad_shape(a, l, path, "up / down");
    sdc_adapter *ad = calloc(1, sizeof *ad);
    if (!ad)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    sdc_status st = sdc_weight_load(&ad->down, down, (int)r, l->w.cols, a->module);
    if (st == SDC_OK)
        st = sdc_weight_load(&ad->up, up, l->w.rows, (int)r, a->module);
    if (st != SDC_OK) {
        free(ad);
        return st;
    }
    ad->scale = scale;
    *out = ad;
    return SDC_OK;
}
