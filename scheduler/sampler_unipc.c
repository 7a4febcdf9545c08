/* diffusers' UniPCMultistepScheduler (0.25.1) as its default configuration runs it: bh2,
 * solver_order 2, predict_x0, lower_order_final, no thresholding. The schedule is the one of
 * DPMSolverMultistepScheduler (sampler_dpm.c's setup); the update works in the VP view of
 * the sigmas on the unscaled latent with x0 predictions:
 *
 *   corrector (from the second step on): redo the last predictor step from the latent it
 *     started at, now with this step's x0 prediction (UniC of the last predictor's order);
 *   predictor: one UniP step of order min(2, steps left, steps done + 1).
 *
 * The x0 prediction comes from the model output and the latent before the correction, as
 * diffusers computes it. One model call per step, no random draws. Scalars are float32. */
#include <math.h>
#include <string.h>

#include "scheduler/ref_numeric.h"
#include "scheduler/sampler_impl.h"

/* The coefficients of one UniP / UniC update from sigma index `from` to `to`. */
typedef struct unipc_coef {
    sdc_vp_point t, s0;
    float h, ratio;  /* lambda_t - lambda_s0; sigma_t / sigma_s0 */
    float a_phi;     /* alpha_t * h_phi_1 */
    float a_b;       /* alpha_t * B_h (bh2: B_h = h_phi_1) */
    float hh, phi_1; /* -h; expm1(-h) */
} unipc_coef;

static unipc_coef coef_between(const sdc_sampler *s, int from, int to)
{
    unipc_coef c;
    c.t = sdc_vp_at(s->sigmas[to]);
    c.s0 = sdc_vp_at(s->sigmas[from]);
    c.h = c.t.lambda - c.s0.lambda;
    c.hh = -c.h;
    c.phi_1 = sdc_torch_expm1f(c.hh);
    c.ratio = c.t.sigma / c.s0.sigma;
    c.a_phi = c.t.alpha * c.phi_1;
    c.a_b = c.t.alpha * c.phi_1;
    return c;
}

/* rk of the output at sigma index `si` relative to s0. */
static float rk_of(const sdc_sampler *s, const unipc_coef *c, int si)
{
    return (sdc_vp_at(s->sigmas[si]).lambda - c->s0.lambda) / c->h;
}

/* UniC's rhos of order 2: R rho = b with R = [[1, 1], [rk, 1]] and b from the h_phi_k
 * recursion (torch.linalg.solve in float32; solved here in double and rounded). */
static void rhos_order2(const unipc_coef *c, float rk, float rho[2])
{
    float hk = c->phi_1 / c->hh - 1.0f;
    float b1 = hk * 1.0f / c->phi_1;
    hk = hk / c->hh - 0.5f;
    float b2 = hk * 2.0f / c->phi_1;
    double r1 = ((double)b2 - (double)rk * b1) / (1.0 - rk);
    rho[1] = (float)r1;
    rho[0] = (float)((double)b1 - r1);
}

/* UniC: x = the last predictor step from `last` (at index k - 1) redone with this step's
 * x0 prediction m (m1 = the last step's, m2 = the one before). */
static void correct(sdc_sampler *s, const float *m, float *x)
{
    int k = s->index;
    unipc_coef c = coef_between(s, k - 1, k);
    const float *last = s->saved_x, *m1 = s->saved_d, *m2 = s->hist;
    float rho[2] = {0.0f, 0.5f}, rk = 1.0f;
    if (s->last_order == 2) {
        rk = rk_of(s, &c, k - 2);
        rhos_order2(&c, rk, rho);
    }
    for (size_t i = 0; i < s->n; i++) {
        float x_ = c.ratio * last[i] - c.a_phi * m1[i];
        float res = rho[1] * (m[i] - m1[i]);
        if (s->last_order == 2)
            res = rho[0] * ((m2[i] - m1[i]) / rk) + res;
        x[i] = x_ - c.a_b * res;
    }
}

/* UniP of `order` from x (at index k) with the x0 predictions m (now) and m1 (the last
 * step). */
static void predict(sdc_sampler *s, int order, const float *m, const float *m1, float *x)
{
    int k = s->index;
    unipc_coef c = coef_between(s, k, k + 1);
    float rk = order == 2 ? rk_of(s, &c, k - 1) : 1.0f;
    for (size_t i = 0; i < s->n; i++) {
        float v = c.ratio * x[i] - c.a_phi * m[i];
        if (order == 2)
            v = v - c.a_b * (0.5f * ((m1[i] - m[i]) / rk));
        x[i] = v;
    }
}

void sdc_sampler_step_unipc(sdc_sampler *s, const float *out, float *x)
{
    int k = s->index;
    sdc_vp_point now = sdc_vp_at(s->sigmas[k]);
    float *m = s->noise; /* this step's x0 prediction */
    for (size_t i = 0; i < s->n; i++)
        m[i] = s->p.prediction == SDC_PREDICTION_V ? now.alpha * x[i] - now.sigma * out[i]
                                                   : (x[i] - now.sigma * out[i]) / now.alpha;
    if (s->have_saved)
        correct(s, m, x);
    /* model_outputs shift: [m2, m1] <- [m1, m] */
    if (s->have_saved)
        memcpy(s->hist, s->saved_d, s->n * sizeof *s->hist);
    memcpy(s->saved_d, m, s->n * sizeof *s->saved_d);
    int left = s->n_calls - k, order = left < 2 ? left : 2; /* lower_order_final */
    if (order > s->hist_count + 1)
        order = s->hist_count + 1; /* warm-up */
    memcpy(s->saved_x, x, s->n * sizeof *s->saved_x);
    predict(s, order, s->saved_d, s->hist, x);
    if (s->hist_count < 2)
        s->hist_count++;
    s->last_order = order;
    s->have_saved = 1;
}
