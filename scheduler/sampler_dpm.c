/* diffusers' DPMSolverMultistepScheduler as configured for "DPM++ 2M": dpmsolver++,
 * solver_order 2, midpoint, lower_order_final. It steps on integer timesteps but works in
 * the sigma domain (alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t) on the
 * unscaled latent; model outputs are converted to x0 predictions first. */
#include <math.h>
#include <stdlib.h>

#include "ops/error.h"
#include "scheduler/ref_numeric.h"
#include "scheduler/sampler_impl.h"
#include "scheduler/sigma_schedule.h"
#include "scheduler/spacing.h"

/* Below this many steps the last step is first order (lower_order_final). */
#define LOWER_ORDER_FINAL_STEPS 15

static sdc_spacing spacing_of(sdc_schedule schedule)
{
    if (schedule == SDC_SCHEDULE_LEADING)
        return SDC_SPACING_LEADING;
    if (schedule == SDC_SCHEDULE_TRAILING)
        return SDC_SPACING_TRAILING;
    return SDC_SPACING_LINSPACE;
}

/* Karras sigmas between the extreme model sigmas, timesteps rounded to integers, and the
 * last sigma repeated at the end. */
static size_t karras_schedule(sdc_sampler *s, const float *model_sigmas, double *ts,
                              double *sig)
{
    size_t n = (size_t)s->p.steps;
    sdc_sigmas_karras_f64(model_sigmas[0], model_sigmas[s->num_train - 1], n, sig);
    for (size_t i = 0; i < n; i++)
        ts[i] = rint(sdc_sigma_to_t_f64(sig[i], s->log_sigmas, s->num_train));
    sig[n] = sig[n - 1];
    return n;
}

/* Interpolated sigmas at the spaced timesteps, then the sigma of timestep 0. */
static size_t spaced_schedule(sdc_sampler *s, const float *model_sigmas, double *ts,
                              double *sig)
{
    size_t n = sdc_spacing_dpm(&s->p.train, spacing_of(s->p.schedule), s->p.steps, ts);
    sdc_sigmas_interp(model_sigmas, s->num_train, ts, n, sig);
    sig[n] = model_sigmas[0];
    return n;
}

sdc_status sdc_sampler_setup_dpm(sdc_sampler *s)
{
    size_t cap = SDC_SPACING_CAPACITY(s->p.steps);
    double *ts = malloc(cap * sizeof *ts), *sig = malloc((cap + 1) * sizeof *sig);
    float *model_sigmas = malloc((size_t)s->num_train * sizeof *model_sigmas);
    sdc_status st = SDC_OK;
    if (!ts || !sig || !model_sigmas)
        st = sdc_fail(SDC_ERR_NOMEM, "sampler: out of memory for the schedule");
    if (st == SDC_OK)
        st = sdc_sampler_alloc_tables(s, 0);
    if (st == SDC_OK) {
        sdc_sigmas_from_alphas_cumprod(s->ac, s->num_train, model_sigmas);
        size_t n = s->p.karras_sigmas ? karras_schedule(s, model_sigmas, ts, sig)
                                      : spaced_schedule(s, model_sigmas, ts, sig);
        st = sdc_sampler_alloc_calls(s, (int)n, 0);
        if (st == SDC_OK)
            st = sdc_sampler_alloc_sigmas(s, (int)n + 1);
        if (st == SDC_OK) {
            for (size_t i = 0; i < n; i++)
                s->t[i] = ts[i];
            for (size_t i = 0; i <= n; i++)
                s->sigmas[i] = (float)sig[i];
            s->init_sigma = 1.0f;
            sdc_sampler_diffusers_start(s, 1);
        }
    }
    free(ts);
    free(sig);
    free(model_sigmas);
    return st;
}

sdc_vp_point sdc_vp_at(float sigma)
{
    float alpha = 1.0f / sqrtf(sigma * sigma + 1.0f);
    float sigma_t = sigma * alpha;
    return (sdc_vp_point){alpha, sigma_t, sdc_torch_logf(alpha) - sdc_torch_logf(sigma_t)};
}

void sdc_sampler_step_dpm(sdc_sampler *s, const float *out, float *x)
{
    int idx = s->index;
    int lower_order_final = idx == s->n_calls - 1 && s->n_calls < LOWER_ORDER_FINAL_STEPS;
    int second_order = s->have_saved && !lower_order_final;
    sdc_vp_point t = sdc_vp_at(s->sigmas[idx + 1]), s0 = sdc_vp_at(s->sigmas[idx]);
    float h = t.lambda - s0.lambda;
    float ratio = t.sigma / s0.sigma;
    float coef = t.alpha * (sdc_torch_expf(-h) - 1.0f);
    float *m1 = s->saved_d; /* the previous x0 prediction */
    float half_d1 = 0.0f, inv_r0 = 0.0f;
    if (second_order) {
        sdc_vp_point s1 = sdc_vp_at(s->sigmas[idx - 1]);
        inv_r0 = 1.0f / ((s0.lambda - s1.lambda) / h);
        half_d1 = 0.5f * coef;
    }
    for (size_t i = 0; i < s->n; i++) {
        /* convert_model_output: the x0 prediction m0 */
        float m0 = s->p.prediction == SDC_PREDICTION_V
                       ? s0.alpha * x[i] - s0.sigma * out[i]
                       : (x[i] - s0.sigma * out[i]) / s0.alpha;
        float next = ratio * x[i] - coef * m0;
        if (second_order)
            next = next - half_d1 * (inv_r0 * (m0 - m1[i]));
        m1[i] = m0;
        x[i] = next;
    }
    s->have_saved = 1;
}
