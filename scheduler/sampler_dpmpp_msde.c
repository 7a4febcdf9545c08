/* k-diffusion's multistep SDE samplers with eta 1 and Brownian noise (scheduler/brownian.h):
 * sample_dpmpp_2m_sde (AUTOMATIC1111's "DPM++ 2M SDE", midpoint; "DPM++ 2M SDE Heun") and
 * sample_dpmpp_3m_sde ("DPM++ 3M SDE"). One model call per step; a step to sigma 0 returns
 * the denoised image. Scalars are float32 0-dim tensors, combined in the reference's order. */
#include <math.h>
#include <string.h>

#include "scheduler/brownian.h"
#include "scheduler/ref_numeric.h"
#include "scheduler/sampler_impl.h"

/* h = -log(sigma_{i+1}) - -log(sigma_i). */
static float log_step(const sdc_sampler *s, int i)
{
    float t = -sdc_torch_logf(s->sigmas[i]), next = -sdc_torch_logf(s->sigmas[i + 1]);
    return next - t;
}

/* x += Brownian noise(sigma_i, sigma_{i+1}) * sigma_{i+1} * sqrt(-expm1(-2 h)). */
static void add_noise(sdc_sampler *s, float h, float *x)
{
    int i = s->kstep;
    float to = s->sigmas[i + 1], scale = sqrtf(-sdc_torch_expm1f(h * -2.0f));
    sdc_brownian_noise(s->tree, s->sigmas[i], to, s->noise);
    for (size_t k = 0; k < s->n; k++)
        x[k] = x[k] + s->noise[k] * to * scale;
}

/* The last step, to sigma 0: x = denoised; the history moves on as in the reference. */
static void final_step(sdc_sampler *s, const float *den, float *x)
{
    for (size_t k = 0; k < s->n; k++)
        x[k] = den[k];
    s->kstep++;
}

void sdc_step_dpmpp_2m_sde(sdc_sampler *s, const float *den, float *x)
{
    int i = s->kstep;
    float *old = s->saved_d;
    if (s->sigmas[i + 1] == 0.0f) {
        final_step(s, den, x);
        return;
    }
    float h = log_step(s, i);
    float a = s->sigmas[i + 1] / s->sigmas[i] * sdc_torch_expf(-h);
    float e = -sdc_torch_expm1f(-h - h); /* (-h - eta_h).expm1().neg() */
    float c = 0.0f;
    if (s->have_saved) {
        float inv_r = 1.0f / (s->h_1 / h);
        c = s->algo == SDC_ALGO_K_DPMPP_2M_SDE_HEUN ? (e / (-h - h) + 1.0f) * inv_r
                                                     : 0.5f * e * inv_r;
    }
    for (size_t k = 0; k < s->n; k++) {
        float v = a * x[k] + e * den[k];
        if (s->have_saved)
            v = v + c * (den[k] - old[k]);
        x[k] = v;
        old[k] = den[k];
    }
    s->have_saved = 1;
    s->h_1 = h;
    add_noise(s, h, x);
    s->kstep++;
}

/* The 3M correction from the last two denoised images (d1, d2 of the reference). */
static void correct_3m(sdc_sampler *s, const float *den, float h, float h_eta, float *x)
{
    const float *d_1 = s->saved_d, *d_2 = s->hist;
    float phi_2 = sdc_torch_expm1f(-h_eta) / h_eta + 1.0f;
    if (s->hist_count < 2) {
        float r = s->h_1 / h;
        for (size_t k = 0; k < s->n; k++)
            x[k] = x[k] + phi_2 * ((den[k] - d_1[k]) / r);
        return;
    }
    float r0 = s->h_1 / h, r1 = s->h_2 / h, phi_3 = phi_2 / h_eta - 0.5f;
    for (size_t k = 0; k < s->n; k++) {
        float d1_0 = (den[k] - d_1[k]) / r0, d1_1 = (d_1[k] - d_2[k]) / r1;
        float d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1);
        float d2 = (d1_0 - d1_1) / (r0 + r1);
        x[k] = x[k] + phi_2 * d1 - phi_3 * d2;
    }
}

/* denoised_1, denoised_2 = denoised, denoised_1 (hist_count: how many are held). */
static void shift_history(sdc_sampler *s, const float *den)
{
    if (s->hist_count > 0)
        memcpy(s->hist, s->saved_d, s->n * sizeof *s->hist);
    memcpy(s->saved_d, den, s->n * sizeof *s->saved_d);
    if (s->hist_count < 2)
        s->hist_count++;
}

void sdc_step_dpmpp_3m_sde(sdc_sampler *s, const float *den, float *x)
{
    int i = s->kstep;
    if (s->sigmas[i + 1] == 0.0f) {
        final_step(s, den, x);
        return;
    }
    float h = log_step(s, i), h_eta = h * 2.0f; /* h * (eta + 1) */
    float a = sdc_torch_expf(-h_eta), e = -sdc_torch_expm1f(-h_eta);
    for (size_t k = 0; k < s->n; k++)
        x[k] = a * x[k] + e * den[k];
    if (s->hist_count > 0)
        correct_3m(s, den, h, h_eta, x);
    shift_history(s, den);
    s->h_2 = s->h_1;
    s->h_1 = h;
    add_noise(s, h, x);
    s->kstep++;
}
