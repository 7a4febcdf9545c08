/* k-diffusion's sample_dpmpp_sde (AUTOMATIC1111's "DPM++ SDE"), eta 1, r = 1/2: two model
 * calls per step in t = -log(sigma), each followed by Brownian noise (scheduler/brownian.h)
 * between the sigmas sigma_fn(t_fn(.)) of its ends; a step to sigma 0 is one Euler call.
 * Scalars are float32 0-dim tensors. */
#include "scheduler/brownian.h"
#include "scheduler/ref_numeric.h"
#include "scheduler/sampler_impl.h"

static float t_fn(float sigma)
{
    return -sdc_torch_logf(sigma);
}

static float sigma_fn(float t)
{
    return sdc_torch_expf(-t);
}

/* t, t_next = t_fn(sigma_i), t_fn(sigma_{i+1}); s = t + h * r. */
typedef struct times {
    float t, t_next, s;
} times;

static times step_times(const sdc_sampler *s, int i)
{
    times k;
    k.t = t_fn(s->sigmas[i]);
    k.t_next = t_fn(s->sigmas[i + 1]);
    k.s = k.t + (k.t_next - k.t) * 0.5f;
    return k;
}

float sdc_dpmpp_sde_mid_sigma(const sdc_sampler *s, int i)
{
    return s->sigmas[i + 1] == 0.0f ? 0.0f : sigma_fn(step_times(s, i).s);
}

/* x = sigma_fn(t_to) / sigma_fn(t) * from - expm1(t - t_to) * den, then the Brownian noise
 * between sigma_fn(t) and sigma_fn(t_end) times sigma_up; t_to = t_fn(sigma_down). */
static void sde_move(sdc_sampler *s, float t, float t_end, const float *from, const float *den,
                     float *x)
{
    float down, up;
    sdc_kdiff_ancestral_step(sigma_fn(t), sigma_fn(t_end), &down, &up);
    float t_to = t_fn(down);
    float ratio = sigma_fn(t_to) / sigma_fn(t), c = sdc_torch_expm1f(t - t_to);
    sdc_brownian_noise(s->tree, sigma_fn(t), sigma_fn(t_end), s->noise);
    for (size_t i = 0; i < s->n; i++) {
        float v = ratio * from[i] - c * den[i];
        x[i] = v + s->noise[i] * up;
    }
}

void sdc_step_dpmpp_sde(sdc_sampler *s, const float *den, float *x)
{
    int i = s->kstep;
    if (s->sigmas[i + 1] == 0.0f) { /* Euler */
        float sigma = s->sigmas[i], dt = s->sigmas[i + 1] - sigma;
        for (size_t k = 0; k < s->n; k++)
            x[k] = x[k] + (x[k] - den[k]) / sigma * dt;
        s->kstep++;
        return;
    }
    times k = step_times(s, i);
    if (!s->mid_step) { /* step 1: to s, keeping x */
        for (size_t j = 0; j < s->n; j++)
            s->saved_x[j] = x[j];
        sde_move(s, k.t, k.s, s->saved_x, den, x);
        s->mid_step = 1;
        return;
    }
    /* step 2: denoised_d = (1 - fac) * denoised + fac * denoised_2 with fac = 1 is
     * denoised_2 itself */
    sde_move(s, k.t, k.t_next, s->saved_x, den, x);
    s->mid_step = 0;
    s->kstep++;
}
