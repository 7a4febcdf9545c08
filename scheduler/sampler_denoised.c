/* The denoised prediction (x0) of the call about to be stepped: what live previews show, as
 * stable-diffusion.cpp shows it without --preview-noisy. Every formulation turns the guided
 * output into x0 its own way; this is the same conversion its update makes, on the unscaled
 * latent of the call. */
#include <math.h>
#include <string.h>

#include "scheduler/sampler_impl.h"

/* diffusers' alpha schedulers: (x - sqrt(1 - a) eps) / sqrt(a), or sqrt(a) x - sqrt(1 - a) v;
 * LCM then applies its consistency boundary condition, as its step does. */
static void denoised_alpha(const sdc_sampler *s, const float *x, const float *out, float *x0)
{
    int t = (int)s->t[s->index];
    float a = s->ac[t], sa = sqrtf(a), sb = sqrtf(1.0f - a);
    float c_skip = 0.0f, c_out = 1.0f;
    if (s->algo == SDC_ALGO_LCM) {
        float scaled = (float)t * s->p.lcm_timestep_scaling;
        c_skip = 0.25f / (scaled * scaled + 0.25f);
        c_out = scaled / sqrtf(scaled * scaled + 0.25f);
    }
    int v = s->p.prediction == SDC_PREDICTION_V;
    for (size_t i = 0; i < s->n; i++) {
        float p = v ? sa * x[i] - sb * out[i] : (x[i] - sb * out[i]) / sa;
        x0[i] = c_out * p + c_skip * x[i];
    }
}

/* diffusers' Euler / Euler a / Heun: x is the sigma-scaled latent at call_sigma. */
static void denoised_sigma(const sdc_sampler *s, const float *x, const float *out, float *x0)
{
    float sigma = s->call_sigma[s->index], sq = sigma * sigma + 1.0f;
    float c_out = -sigma / sqrtf(sq);
    int v = s->p.prediction == SDC_PREDICTION_V;
    for (size_t i = 0; i < s->n; i++)
        x0[i] = v ? out[i] * c_out + x[i] / sq : x[i] - sigma * out[i];
}

/* diffusers' DPM++ 2M and UniPC: the VP view of sigmas[index]. */
static void denoised_vp(const sdc_sampler *s, const float *x, const float *out, float *x0)
{
    sdc_vp_point p = sdc_vp_at(s->sigmas[s->index]);
    int v = s->p.prediction == SDC_PREDICTION_V;
    for (size_t i = 0; i < s->n; i++)
        x0[i] = v ? p.alpha * x[i] - p.sigma * out[i] : (x[i] - p.sigma * out[i]) / p.alpha;
}

void sdc_sampler_denoised(const sdc_sampler *s, const float *latent, const float *guided,
                          float *x0)
{
    if (s->index >= s->n_calls)
        return;
    if (s->kdiff) { /* the guided output already is the denoised image */
        memmove(x0, guided, s->n * sizeof *x0);
        return;
    }
    switch (s->algo) {
    case SDC_ALGO_DDIM:
    case SDC_ALGO_DDPM:
    case SDC_ALGO_LCM:
        denoised_alpha(s, latent, guided, x0);
        break;
    case SDC_ALGO_EULER:
    case SDC_ALGO_EULER_A:
    case SDC_ALGO_HEUN:
        denoised_sigma(s, latent, guided, x0);
        break;
    default: /* DPM++ 2M, UniPC */
        denoised_vp(s, latent, guided, x0);
        break;
    }
}
