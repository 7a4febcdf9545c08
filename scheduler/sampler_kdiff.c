/* k-diffusion's samplers over a CompVisDenoiser built on the LDM alphas_cumprod, as
 * AUTOMATIC1111 runs them: the schedule and the calls of every sampler, the dispatch of one
 * step, and the first-order rules (sample_euler, sample_euler_ancestral, sample_heun,
 * sample_dpmpp_2m); the others have a file each (sampler_lms.c, sampler_dpm2.c, ...).
 * Steps take the guided denoised image; scalars are float32 0-dim tensors.
 * Random draws: euler and heun draw one (unused, s_churn = 0) tensor at every step,
 * euler_ancestral one per step except the last, dpmpp_2m none. */
#include <math.h>
#include <stdlib.h>

#include "ops/error.h"
#include "scheduler/ref_numeric.h"
#include "scheduler/sampler_impl.h"
#include "scheduler/sigma_schedule.h"

/* AUTOMATIC1111 img2img: the schedule of all steps, entered at sigmas[steps - t_enc - 1]
 * with t_enc = int(min(strength, 0.999) * steps). */
static int img2img_first_step(const sdc_sampler_params *p)
{
    if (p->strength >= 1.0f)
        return 0;
    if (p->img2img_steps > 0)
        return p->steps > p->img2img_steps ? p->steps - p->img2img_steps : 0;
    double strength = sdc_decimal_of(p->strength);
    int t_enc = (int)((strength < 0.999 ? strength : 0.999) * p->steps);
    return p->steps - t_enc - 1;
}

/* The schedule between the extreme model sigmas (Python floats in the reference), of
 * steps + 1 sigmas with the next-to-last dropped where AUTOMATIC1111 does that. */
static void build_sigmas(sdc_sampler *s, double sigma_min, double sigma_max)
{
    int discard = sdc_sampler_discards_penultimate(s->p.kind);
    size_t n = (size_t)s->p.steps + (size_t)discard;
    if (s->p.schedule == SDC_SCHEDULE_KARRAS)
        sdc_kdiff_sigmas_karras(n, sigma_min, sigma_max, s->sigmas);
    else if (s->p.schedule == SDC_SCHEDULE_EXPONENTIAL)
        sdc_kdiff_sigmas_exponential(n, sigma_min, sigma_max, s->sigmas);
    else
        sdc_kdiff_sigmas_discrete(s->log_sigmas, s->num_train, n, s->sigmas);
    if (discard) /* [..., s_{n-2}, s_{n-1}, 0] -> [..., s_{n-2}, 0] */
        s->sigmas[n - 1] = s->sigmas[n];
}

void sdc_kdiff_ancestral_step(float from, float to, float *down, float *up)
{
    float u = sqrtf(to * to * (from * from - to * to) / (from * from));
    if (!(u < to))
        u = to;
    *up = u;
    *down = sqrtf(to * to - u * u);
}

float sdc_kdiff_second_sigma(const sdc_sampler *s, int i)
{
    switch (s->algo) {
    case SDC_ALGO_K_HEUN:
        return s->sigmas[i + 1];
    case SDC_ALGO_K_DPM2:
    case SDC_ALGO_K_DPM2_A:
        return sdc_dpm2_mid_sigma(s, i);
    case SDC_ALGO_K_DPMPP_2S_A:
        return sdc_dpmpp_2s_a_mid_sigma(s, i);
    case SDC_ALGO_K_DPMPP_SDE:
        return sdc_dpmpp_sde_mid_sigma(s, i);
    default:
        return 0.0f;
    }
}

static int calls_of_step(const sdc_sampler *s, int i)
{
    return sdc_kdiff_second_sigma(s, i) != 0.0f ? 2 : 1;
}

static sdc_status fill_calls(sdc_sampler *s, int first_step)
{
    int calls = 0, start = 0;
    for (int i = 0; i < s->p.steps; i++) {
        if (i == first_step)
            start = calls;
        calls += calls_of_step(s, i);
    }
    sdc_status st = sdc_sampler_alloc_calls(s, calls, 1);
    if (st != SDC_OK)
        return st;
    int c = 0;
    for (int i = 0; i < s->p.steps; i++)
        for (int k = 0; k < calls_of_step(s, i); k++, c++) {
            s->call_sigma[c] = k ? sdc_kdiff_second_sigma(s, i) : s->sigmas[i];
            s->t[c] = sdc_kdiff_sigma_to_t(s->call_sigma[c], s->log_sigmas, s->num_train);
        }
    s->start = start;
    s->kstep = first_step;
    return SDC_OK;
}

sdc_status sdc_sampler_setup_kdiff(sdc_sampler *s)
{
    sdc_status st = sdc_sampler_alloc_tables(s, 1);
    if (st == SDC_OK) /* one spare for the sigma AUTOMATIC1111 drops */
        st = sdc_sampler_alloc_sigmas(s, s->p.steps + 2);
    s->n_sigmas = s->p.steps + 1;
    if (st == SDC_OK && (s->algo == SDC_ALGO_K_LMS || s->algo == SDC_ALGO_K_DPMPP_3M_SDE))
        st = sdc_sampler_alloc_hist(s);
    if (st != SDC_OK)
        return st;
    float extremes[2];
    sdc_sigmas_from_alphas_cumprod(s->ac, 1, &extremes[0]);
    sdc_sigmas_from_alphas_cumprod(s->ac + s->num_train - 1, 1, &extremes[1]);
    build_sigmas(s, extremes[0], extremes[1]);
    s->init_sigma = s->sigmas[0];
    return fill_calls(s, img2img_first_step(&s->p));
}

static void step_euler(sdc_sampler *s, const float *den, float *x, sdc_rng *rng)
{
    float sigma = s->sigmas[s->kstep], dt = s->sigmas[s->kstep + 1] - sigma;
    sdc_rng_randn(rng, s->noise, s->n);
    for (size_t i = 0; i < s->n; i++)
        x[i] = x[i] + (x[i] - den[i]) / sigma * dt;
    s->kstep++;
}

static void step_euler_a(sdc_sampler *s, const float *den, float *x, sdc_rng *rng)
{
    float from = s->sigmas[s->kstep], to = s->sigmas[s->kstep + 1], down, up;
    sdc_kdiff_ancestral_step(from, to, &down, &up);
    float dt = down - from;
    for (size_t i = 0; i < s->n; i++)
        x[i] = x[i] + (x[i] - den[i]) / from * dt;
    if (to > 0.0f) {
        sdc_rng_randn(rng, s->noise, s->n);
        for (size_t i = 0; i < s->n; i++)
            x[i] = x[i] + s->noise[i] * up;
    }
    s->kstep++;
}

/* Heun: the first call moves latent to the Euler point x_2 and keeps (x, d); the second
 * call (at sigma_{i+1}) averages the slopes. A step ending at sigma 0 is plain Euler. */
static void step_heun(sdc_sampler *s, const float *den, float *x, sdc_rng *rng)
{
    float sigma = s->sigmas[s->kstep], next = s->sigmas[s->kstep + 1];
    float dt = next - sigma;
    if (s->have_saved) {
        for (size_t i = 0; i < s->n; i++) {
            float d2 = (x[i] - den[i]) / next;
            x[i] = s->saved_x[i] + (s->saved_d[i] + d2) / 2.0f * dt;
        }
        s->have_saved = 0;
        s->mid_step = 0;
        s->kstep++;
        return;
    }
    sdc_rng_randn(rng, s->noise, s->n);
    for (size_t i = 0; i < s->n; i++) {
        float d = (x[i] - den[i]) / sigma;
        s->saved_x[i] = x[i];
        s->saved_d[i] = d;
        x[i] = x[i] + d * dt;
    }
    if (next == 0.0f)
        s->kstep++;
    else
        s->have_saved = 1;
    s->mid_step = s->have_saved;
}

/* DPM++ 2M in t = -log(sigma); the first step and a step to sigma 0 are first order. */
static void step_dpmpp_2m(sdc_sampler *s, const float *den, float *x)
{
    int i = s->kstep;
    float t = -sdc_torch_logf(s->sigmas[i]), t_next = -sdc_torch_logf(s->sigmas[i + 1]);
    float h = t_next - t;
    float ratio = sdc_torch_expf(-t_next) / sdc_torch_expf(-t);
    float step = sdc_torch_expm1f(-h);
    float *old = s->saved_d;
    int second = s->have_saved && s->sigmas[i + 1] != 0.0f;
    float a = 1.0f, b = 0.0f;
    if (second) {
        float r = (t - -sdc_torch_logf(s->sigmas[i - 1])) / h;
        b = 1.0f / (2.0f * r);
        a = 1.0f + b;
    }
    for (size_t k = 0; k < s->n; k++) {
        float d = second ? a * den[k] - b * old[k] : den[k];
        old[k] = den[k];
        x[k] = ratio * x[k] - step * d;
    }
    s->have_saved = 1;
    s->kstep++;
}

void sdc_sampler_step_kdiff(sdc_sampler *s, const float *denoised, float *latent, sdc_rng *rng)
{
    switch (s->algo) {
    case SDC_ALGO_K_EULER:
        step_euler(s, denoised, latent, rng);
        break;
    case SDC_ALGO_K_EULER_A:
        step_euler_a(s, denoised, latent, rng);
        break;
    case SDC_ALGO_K_HEUN:
        step_heun(s, denoised, latent, rng);
        break;
    case SDC_ALGO_K_LMS:
        sdc_step_lms(s, denoised, latent);
        break;
    case SDC_ALGO_K_DPM2:
        sdc_step_dpm2(s, denoised, latent, rng);
        break;
    case SDC_ALGO_K_DPM2_A:
        sdc_step_dpm2_a(s, denoised, latent, rng);
        break;
    case SDC_ALGO_K_DPMPP_2S_A:
        sdc_step_dpmpp_2s_a(s, denoised, latent, rng);
        break;
    case SDC_ALGO_K_DPMPP_SDE:
        sdc_step_dpmpp_sde(s, denoised, latent);
        break;
    case SDC_ALGO_K_DPMPP_2M_SDE:
    case SDC_ALGO_K_DPMPP_2M_SDE_HEUN:
        sdc_step_dpmpp_2m_sde(s, denoised, latent);
        break;
    case SDC_ALGO_K_DPMPP_3M_SDE:
        sdc_step_dpmpp_3m_sde(s, denoised, latent);
        break;
    default:
        step_dpmpp_2m(s, denoised, latent);
        break;
    }
}
