/* diffusers' alpha-parameterised schedulers: DDIM, DDPM (fixed_small variance) and LCM.
 * They step on integer timesteps with the float32 alphas_cumprod; scalar coefficients are
 * 0-dim float32 tensors in the reference, so they are computed once per step in float. */
#include <math.h>
#include <stdlib.h>

#include "ops/error.h"
#include "scheduler/sampler_impl.h"
#include "scheduler/spacing.h"

static sdc_spacing spacing_of(sdc_schedule schedule)
{
    if (schedule == SDC_SCHEDULE_TRAILING)
        return SDC_SPACING_TRAILING;
    if (schedule == SDC_SCHEDULE_LINSPACE)
        return SDC_SPACING_LINSPACE;
    return SDC_SPACING_LEADING; /* default of DDIM, DDPM and LCM */
}

static sdc_status lcm_check(const sdc_sampler_params *p)
{
    if (p->lcm_original_steps < 1 || p->lcm_original_steps > p->train.num_train_timesteps)
        return sdc_fail(SDC_ERR_ARG, "lcm: original_inference_steps %d is outside [1, %d]",
                        p->lcm_original_steps, p->train.num_train_timesteps);
    if (p->steps > p->lcm_original_steps)
        return sdc_fail(SDC_ERR_ARG, "steps: lcm allows at most %d steps, got %d",
                        p->lcm_original_steps, p->steps);
    if (!(p->lcm_timestep_scaling > 0 && isfinite(p->lcm_timestep_scaling)))
        return sdc_fail(SDC_ERR_ARG, "lcm: timestep_scaling %g is not positive",
                        (double)p->lcm_timestep_scaling);
    return SDC_OK;
}

sdc_status sdc_sampler_setup_alpha(sdc_sampler *s)
{
    const sdc_sampler_params *p = &s->p;
    sdc_status st = s->algo == SDC_ALGO_LCM ? lcm_check(p) : SDC_OK;
    if (st == SDC_OK)
        st = sdc_sampler_alloc_tables(s, 0);
    double *ts = st == SDC_OK ? malloc(SDC_SPACING_CAPACITY(p->steps) * sizeof *ts) : NULL;
    if (st == SDC_OK && !ts)
        st = sdc_fail(SDC_ERR_NOMEM, "sampler: out of memory for %d timesteps", p->steps);
    if (st != SDC_OK)
        return st;
    size_t count = s->algo == SDC_ALGO_LCM
                       ? sdc_spacing_lcm(&p->train, p->lcm_original_steps, p->steps, ts)
                       : sdc_spacing_ddim(&p->train, spacing_of(p->schedule), p->steps, ts);
    st = sdc_sampler_alloc_calls(s, (int)count, 0);
    if (st == SDC_OK) {
        for (size_t i = 0; i < count; i++)
            s->t[i] = ts[i];
        s->init_sigma = 1.0f;
        sdc_sampler_diffusers_start(s, 1);
    }
    free(ts);
    return st;
}

int sdc_ddim_prev_timestep(const sdc_sampler *s, int call)
{
    return (int)s->t[call] - s->num_train / s->p.steps;
}

/* alphas_cumprod at t, or the value used past the start of the schedule. */
static float alpha_at(const sdc_sampler *s, int t, float before_start)
{
    return t >= 0 ? s->ac[t] : before_start;
}

/* x0 prediction per element: (x - sqrt(1 - a) * eps) / sqrt(a), or sqrt(a) x - sqrt(1 - a) v. */
typedef struct x0_coeffs {
    int v;
    float sa, sb; /* sqrt(a), sqrt(1 - a) */
} x0_coeffs;

static x0_coeffs x0_coeffs_at(const sdc_sampler *s, float a)
{
    return (x0_coeffs){s->p.prediction == SDC_PREDICTION_V, sqrtf(a), sqrtf(1.0f - a)};
}

static inline float pred_x0(x0_coeffs c, float x, float out)
{
    return c.v ? c.sa * x - c.sb * out : (x - c.sb * out) / c.sa;
}

static inline float pred_eps(x0_coeffs c, float x, float out)
{
    return c.v ? c.sa * out + c.sb * x : out;
}

/* DDIM (formula 12 of the paper); eta > 0 adds sigma_t-scaled noise drawn after the update. */
static void step_ddim(sdc_sampler *s, const float *out, float *x, sdc_rng *rng)
{
    int t = (int)s->t[s->index];
    float a_t = s->ac[t];
    float a_prev = alpha_at(s, sdc_ddim_prev_timestep(s, s->index), s->ac[0]);
    float b_t = 1.0f - a_t, b_prev = 1.0f - a_prev;
    float variance = (b_prev / b_t) * (1.0f - a_t / a_prev);
    float std_dev = s->p.eta * sqrtf(variance);
    float dir = sqrtf(1.0f - a_prev - std_dev * std_dev);
    float s_prev = sqrtf(a_prev);
    x0_coeffs c = x0_coeffs_at(s, a_t);
    for (size_t i = 0; i < s->n; i++)
        x[i] = s_prev * pred_x0(c, x[i], out[i]) + dir * pred_eps(c, x[i], out[i]);
    if (s->p.eta > 0.0f) {
        sdc_rng_randn(rng, s->noise, s->n);
        for (size_t i = 0; i < s->n; i++)
            x[i] = x[i] + std_dev * s->noise[i];
    }
}

/* DDPM posterior mean plus fixed_small noise while t > 0. */
static void step_ddpm(sdc_sampler *s, const float *out, float *x, sdc_rng *rng)
{
    int t = (int)s->t[s->index];
    float a_t = s->ac[t];
    float a_prev = alpha_at(s, sdc_ddim_prev_timestep(s, s->index), 1.0f);
    float b_t = 1.0f - a_t, b_prev = 1.0f - a_prev;
    float cur_alpha = a_t / a_prev, cur_beta = 1.0f - cur_alpha;
    float c_x0 = (sqrtf(a_prev) * cur_beta) / b_t;
    float c_x = sqrtf(cur_alpha) * b_prev / b_t;
    x0_coeffs c = x0_coeffs_at(s, a_t);
    for (size_t i = 0; i < s->n; i++)
        x[i] = c_x0 * pred_x0(c, x[i], out[i]) + c_x * x[i];
    if (t <= 0)
        return;
    float variance = b_prev / b_t * (1.0f - a_t / a_prev);
    float std_dev = sqrtf(variance < 1e-20f ? 1e-20f : variance);
    sdc_rng_randn(rng, s->noise, s->n);
    for (size_t i = 0; i < s->n; i++)
        x[i] = x[i] + std_dev * s->noise[i];
}

/* LCM: x0 through the consistency boundary conditions, then re-noised to the next
 * timestep with fresh noise (not after the last step). */
static void step_lcm(sdc_sampler *s, const float *out, float *x, sdc_rng *rng)
{
    int t = (int)s->t[s->index];
    int last = s->index == s->n_calls - 1;
    int t_prev = last ? t : (int)s->t[s->index + 1];
    float a_t = s->ac[t];
    float a_prev = alpha_at(s, t_prev, s->ac[0]);
    float scaled = (float)t * s->p.lcm_timestep_scaling;
    float c_skip = 0.25f / (scaled * scaled + 0.25f); /* sigma_data = 0.5 */
    float c_out = scaled / sqrtf(scaled * scaled + 0.25f);
    x0_coeffs c = x0_coeffs_at(s, a_t);
    for (size_t i = 0; i < s->n; i++)
        x[i] = c_out * pred_x0(c, x[i], out[i]) + c_skip * x[i];
    if (last)
        return;
    float s_prev = sqrtf(a_prev), s_noise = sqrtf(1.0f - a_prev);
    sdc_rng_randn(rng, s->noise, s->n);
    for (size_t i = 0; i < s->n; i++)
        x[i] = s_prev * x[i] + s_noise * s->noise[i];
}

void sdc_sampler_step_alpha(sdc_sampler *s, const float *out, float *latent, sdc_rng *rng)
{
    if (s->algo == SDC_ALGO_DDIM)
        step_ddim(s, out, latent, rng);
    else if (s->algo == SDC_ALGO_DDPM)
        step_ddpm(s, out, latent, rng);
    else
        step_lcm(s, out, latent, rng);
}
