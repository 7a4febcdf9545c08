/* k-diffusion's sample_dpm_2 and sample_dpm_2_ancestral (AUTOMATIC1111's "DPM2" and
 * "DPM2 a"): a midpoint step in log sigma, two model calls per step; a step that ends at
 * sigma 0 (DPM2) or whose sigma_down is 0 (DPM2 a) is one Euler call. DPM2 draws one
 * (unused, s_churn = 0) tensor at the start of every step; DPM2 a one after each two-call
 * step, scaled by sigma_up. Scalars are float32 0-dim tensors. */
#include "scheduler/ref_numeric.h"
#include "scheduler/sampler_impl.h"

/* exp(lerp(log a, log b, 0.5)): torch's lerp at weight 0.5 is b - (b - a) * 0.5. */
static float log_midpoint(float a, float b)
{
    float la = sdc_torch_logf(a), lb = sdc_torch_logf(b);
    return sdc_torch_expf(lb - (lb - la) * 0.5f);
}

/* The step's end before the noise: sigma_{i+1} (DPM2) or sigma_down (DPM2 a). */
static float step_end(const sdc_sampler *s, int i)
{
    float to = s->sigmas[i + 1], down, up;
    if (s->algo == SDC_ALGO_K_DPM2)
        return to;
    sdc_kdiff_ancestral_step(s->sigmas[i], to, &down, &up);
    return down;
}

float sdc_dpm2_mid_sigma(const sdc_sampler *s, int i)
{
    float end = step_end(s, i);
    return end == 0.0f ? 0.0f : log_midpoint(s->sigmas[i], end);
}

/* First call: Euler to the end, or to the midpoint keeping (x, d) for the second call. */
static void first_call(sdc_sampler *s, const float *den, float *x, float end)
{
    float sigma = s->sigmas[s->kstep];
    float mid = end == 0.0f ? 0.0f : log_midpoint(sigma, end);
    float dt = (end == 0.0f ? end : mid) - sigma;
    for (size_t k = 0; k < s->n; k++) {
        float d = (x[k] - den[k]) / sigma;
        s->saved_x[k] = x[k];
        x[k] = x[k] + d * dt;
    }
    s->mid_step = end != 0.0f;
}

/* Second call at the midpoint: the whole step with the midpoint's slope. */
static void second_call(sdc_sampler *s, const float *den, float *x, float end)
{
    float sigma = s->sigmas[s->kstep], mid = s->call_sigma[s->index];
    float dt = end - sigma;
    for (size_t k = 0; k < s->n; k++) {
        float d2 = (x[k] - den[k]) / mid;
        x[k] = s->saved_x[k] + d2 * dt;
    }
    s->mid_step = 0;
}

void sdc_step_dpm2(sdc_sampler *s, const float *den, float *x, sdc_rng *rng)
{
    float end = step_end(s, s->kstep);
    if (s->mid_step) {
        second_call(s, den, x, end);
        s->kstep++;
        return;
    }
    sdc_rng_randn(rng, s->noise, s->n); /* eps, unused without churn */
    first_call(s, den, x, end);
    if (!s->mid_step)
        s->kstep++;
}

void sdc_step_dpm2_a(sdc_sampler *s, const float *den, float *x, sdc_rng *rng)
{
    float down, up;
    sdc_kdiff_ancestral_step(s->sigmas[s->kstep], s->sigmas[s->kstep + 1], &down, &up);
    if (!s->mid_step) {
        first_call(s, den, x, down);
        if (!s->mid_step)
            s->kstep++;
        return;
    }
    second_call(s, den, x, down);
    sdc_rng_randn(rng, s->noise, s->n);
    for (size_t k = 0; k < s->n; k++)
        x[k] = x[k] + s->noise[k] * up;
    s->kstep++;
}
