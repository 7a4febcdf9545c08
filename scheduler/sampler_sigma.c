/* diffusers' sigma-parameterised schedulers: Euler, Euler ancestral and Heun. Sigmas are
 * np.interp of the model sigmas at float32 timesteps (optionally Karras-spaced), stored as
 * float32 with a trailing 0; the update works on the unscaled latent. */
#include <math.h>
#include <stdlib.h>

#include "ops/error.h"
#include "scheduler/sampler_impl.h"
#include "scheduler/sigma_schedule.h"
#include "scheduler/spacing.h"

static sdc_spacing spacing_of(sdc_schedule schedule)
{
    if (schedule == SDC_SCHEDULE_LEADING)
        return SDC_SPACING_LEADING;
    if (schedule == SDC_SCHEDULE_TRAILING)
        return SDC_SPACING_TRAILING;
    return SDC_SPACING_LINSPACE;
}

/* Float64 timesteps and sigmas of set_timesteps before the Heun duplication. */
static size_t base_schedule(sdc_sampler *s, const float *model_sigmas, double *ts, double *sig)
{
    const sdc_sampler_params *p = &s->p;
    size_t n = sdc_spacing_euler(&p->train, spacing_of(p->schedule), p->steps, ts);
    sdc_sigmas_interp(model_sigmas, s->num_train, ts, n, sig);
    if (!p->karras_sigmas)
        return n;
    sdc_sigmas_karras_f64(sig[n - 1], sig[0], n, sig);
    for (size_t i = 0; i < n; i++) {
        ts[i] = sdc_sigma_to_t_f64(sig[i], s->log_sigmas, s->num_train);
        if (s->algo != SDC_ALGO_HEUN) /* Euler keeps float32 timesteps, Heun float64 */
            ts[i] = (float)ts[i];
    }
    return n;
}

/* Heun repeats every timestep but the first, and every sigma but the first and last 0. */
static void fill_calls(sdc_sampler *s, const double *ts, const double *sig, size_t n)
{
    int heun = s->algo == SDC_ALGO_HEUN;
    int c = 0;
    for (size_t i = 0; i < n; i++)
        for (int r = 0; r < (heun && i > 0 ? 2 : 1); r++, c++) {
            s->t[c] = ts[i];
            s->sigmas[c] = (float)sig[i];
        }
    s->sigmas[c] = 0.0f;
    for (int i = 0; i < s->n_calls; i++)
        s->call_sigma[i] = s->sigmas[i];
}

/* max(sigmas), or sqrt(max^2 + 1) with 'leading' spacing. */
static float init_noise_sigma(const sdc_sampler *s)
{
    float max = 0.0f;
    for (int i = 0; i < s->n_sigmas; i++)
        max = s->sigmas[i] > max ? s->sigmas[i] : max;
    if (s->p.schedule == SDC_SCHEDULE_LEADING)
        return sqrtf(max * max + 1.0f);
    return max;
}

sdc_status sdc_sampler_setup_sigma(sdc_sampler *s)
{
    size_t cap = SDC_SPACING_CAPACITY(s->p.steps);
    double *ts = malloc(cap * sizeof *ts), *sig = malloc(cap * sizeof *sig);
    float *model_sigmas = malloc((size_t)s->num_train * sizeof *model_sigmas);
    sdc_status st = SDC_OK;
    if (!ts || !sig || !model_sigmas)
        st = sdc_fail(SDC_ERR_NOMEM, "sampler: out of memory for the schedule");
    if (st == SDC_OK)
        st = sdc_sampler_alloc_tables(s, 0);
    if (st == SDC_OK) {
        sdc_sigmas_from_alphas_cumprod(s->ac, s->num_train, model_sigmas);
        size_t n = base_schedule(s, model_sigmas, ts, sig);
        int heun = s->algo == SDC_ALGO_HEUN;
        int calls = heun ? 2 * (int)n - 1 : (int)n;
        st = sdc_sampler_alloc_calls(s, calls, 1);
        if (st == SDC_OK)
            st = sdc_sampler_alloc_sigmas(s, calls + 1);
        if (st == SDC_OK) {
            fill_calls(s, ts, sig, n);
            s->init_sigma = init_noise_sigma(s);
            sdc_sampler_diffusers_start(s, heun ? 2 : 1);
        }
    }
    free(ts);
    free(sig);
    free(model_sigmas);
    return st;
}

/* x0 from the model output at sigma (eps: x - sigma * eps; v: c_out * v + c_skip * x). */
typedef struct x0_coeffs {
    int v;
    float sigma, c_out, c_skip_div; /* v: out * c_out + x / (sigma^2 + 1) */
} x0_coeffs;

static x0_coeffs x0_coeffs_at(const sdc_sampler *s, float sigma)
{
    float sq = sigma * sigma + 1.0f;
    return (x0_coeffs){s->p.prediction == SDC_PREDICTION_V, sigma, -sigma / sqrtf(sq), sq};
}

static inline float pred_x0(x0_coeffs c, float x, float out)
{
    return c.v ? out * c.c_out + x / c.c_skip_div : x - c.sigma * out;
}

/* Euler: one noise tensor is drawn every step although s_churn = 0 leaves it unused. */
static void step_euler(sdc_sampler *s, const float *out, float *x, sdc_rng *rng)
{
    float sigma = s->sigmas[s->index], dt = s->sigmas[s->index + 1] - sigma;
    sdc_rng_randn(rng, s->noise, s->n);
    x0_coeffs c = x0_coeffs_at(s, sigma);
    for (size_t i = 0; i < s->n; i++) {
        float d = (x[i] - pred_x0(c, x[i], out[i])) / sigma;
        x[i] = x[i] + d * dt;
    }
}

static void step_euler_a(sdc_sampler *s, const float *out, float *x, sdc_rng *rng)
{
    float from = s->sigmas[s->index], to = s->sigmas[s->index + 1];
    float up = sqrtf(to * to * (from * from - to * to) / (from * from));
    float down = sqrtf(to * to - up * up);
    float dt = down - from;
    x0_coeffs c = x0_coeffs_at(s, from);
    for (size_t i = 0; i < s->n; i++) {
        float d = (x[i] - pred_x0(c, x[i], out[i])) / from;
        x[i] = x[i] + d * dt;
    }
    sdc_rng_randn(rng, s->noise, s->n);
    for (size_t i = 0; i < s->n; i++)
        x[i] = x[i] + s->noise[i] * up;
}

/* Heun: a first-order stage keeps (x, d, dt); the second averages the slopes. */
static void step_heun(sdc_sampler *s, const float *out, float *x)
{
    int second = s->have_saved;
    float sigma = s->sigmas[second ? s->index - 1 : s->index];
    float next = s->sigmas[second ? s->index : s->index + 1];
    x0_coeffs c = x0_coeffs_at(s, second ? next : sigma);
    if (!second) {
        s->heun_dt = next - sigma;
        for (size_t i = 0; i < s->n; i++) {
            float d = (x[i] - pred_x0(c, x[i], out[i])) / sigma;
            s->saved_x[i] = x[i];
            s->saved_d[i] = d;
            x[i] = x[i] + d * s->heun_dt;
        }
        s->have_saved = 1;
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        float d = (x[i] - pred_x0(c, x[i], out[i])) / next;
        d = (s->saved_d[i] + d) / 2.0f;
        x[i] = s->saved_x[i] + d * s->heun_dt;
    }
    s->have_saved = 0;
}

void sdc_sampler_step_sigma(sdc_sampler *s, const float *out, float *latent, sdc_rng *rng)
{
    if (s->algo == SDC_ALGO_EULER)
        step_euler(s, out, latent, rng);
    else if (s->algo == SDC_ALGO_EULER_A)
        step_euler_a(s, out, latent, rng);
    else
        step_heun(s, out, latent);
}
