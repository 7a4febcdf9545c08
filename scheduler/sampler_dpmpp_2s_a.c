/* k-diffusion's sample_dpmpp_2s_ancestral (AUTOMATIC1111's "DPM++ 2S a"): DPM-Solver++(2S)
 * from sigma_i to sigma_down in t = -log(sigma) through the midpoint s = t + h / 2, two model
 * calls per step (one Euler call when sigma_down is 0), then new noise scaled by sigma_up
 * from the generator whenever sigma_{i+1} > 0. Scalars are float32 0-dim tensors. */
#include "scheduler/ref_numeric.h"
#include "scheduler/sampler_impl.h"

/* t = -log(sigma_i), t_next = -log(sigma_down), h and the midpoint s. */
typedef struct times {
    float t, t_next, h, s;
} times;

static times step_times(float sigma, float down)
{
    times k;
    k.t = -sdc_torch_logf(sigma);
    k.t_next = -sdc_torch_logf(down);
    k.h = k.t_next - k.t;
    k.s = k.t + k.h * 0.5f;
    return k;
}

float sdc_dpmpp_2s_a_mid_sigma(const sdc_sampler *s, int i)
{
    float down, up;
    sdc_kdiff_ancestral_step(s->sigmas[i], s->sigmas[i + 1], &down, &up);
    return down == 0.0f ? 0.0f : sdc_torch_expf(-step_times(s->sigmas[i], down).s);
}

static void first_call(sdc_sampler *s, const float *den, float *x, float down)
{
    float sigma = s->sigmas[s->kstep];
    if (down == 0.0f) { /* Euler to sigma_down */
        float dt = down - sigma;
        for (size_t k = 0; k < s->n; k++)
            x[k] = x[k] + (x[k] - den[k]) / sigma * dt;
        return;
    }
    times k = step_times(sigma, down);
    float ratio = sdc_torch_expf(-k.s) / sdc_torch_expf(-k.t);
    float c = sdc_torch_expm1f(-k.h * 0.5f);
    for (size_t i = 0; i < s->n; i++) {
        s->saved_x[i] = x[i];
        x[i] = ratio * x[i] - c * den[i];
    }
    s->mid_step = 1;
}

static void second_call(sdc_sampler *s, const float *den, float *x, float down)
{
    times k = step_times(s->sigmas[s->kstep], down);
    float ratio = sdc_torch_expf(-k.t_next) / sdc_torch_expf(-k.t);
    float c = sdc_torch_expm1f(-k.h);
    for (size_t i = 0; i < s->n; i++)
        x[i] = ratio * s->saved_x[i] - c * den[i];
    s->mid_step = 0;
}

void sdc_step_dpmpp_2s_a(sdc_sampler *s, const float *den, float *x, sdc_rng *rng)
{
    float to = s->sigmas[s->kstep + 1], down, up;
    sdc_kdiff_ancestral_step(s->sigmas[s->kstep], to, &down, &up);
    if (s->mid_step)
        second_call(s, den, x, down);
    else
        first_call(s, den, x, down);
    if (s->mid_step)
        return;
    if (to > 0.0f) {
        sdc_rng_randn(rng, s->noise, s->n);
        for (size_t i = 0; i < s->n; i++)
            x[i] = x[i] + s->noise[i] * up;
    }
    s->kstep++;
}
