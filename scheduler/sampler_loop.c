/* The per-call operations every sampler shares: starting latents, noising, the UNet input
 * scaling, guidance, and the dispatch of one update. Latents are [latent_size] floats. */
#include <math.h>
#include <string.h>

#include "ops/error.h"
#include "scheduler/brownian.h"
#include "scheduler/sampler_impl.h"

/* diffusers' sigma schedulers scale the input; the others feed the latent as is. */
static int diffusers_sigma_algo(const sdc_sampler *s)
{
    return s->algo == SDC_ALGO_EULER || s->algo == SDC_ALGO_EULER_A || s->algo == SDC_ALGO_HEUN;
}

void sdc_sampler_start_txt2img(const sdc_sampler *s, const float *noise, float *latent)
{
    for (size_t i = 0; i < s->n; i++)
        latent[i] = noise[i] * s->init_sigma;
}

void sdc_sampler_add_noise(const sdc_sampler *s, int call, const float *x0, const float *noise,
                           float *out)
{
    int index = s->start + call;
    if (index >= s->n_calls) {
        memmove(out, x0, s->n * sizeof *out);
        return;
    }
    if (s->call_sigma) { /* x0 + noise * sigma */
        float sigma = s->call_sigma[index];
        for (size_t i = 0; i < s->n; i++)
            out[i] = x0[i] + noise[i] * sigma;
        return;
    }
    /* sqrt(ac) * x0 + sqrt(1 - ac) * noise at the call's integer timestep */
    float a = s->ac[(int)s->t[index]];
    float sa = sqrtf(a), sb = sqrtf(1.0f - a);
    for (size_t i = 0; i < s->n; i++)
        out[i] = sa * x0[i] + sb * noise[i];
}

void sdc_sampler_start_img2img(const sdc_sampler *s, const float *x0, const float *noise,
                               float *latent)
{
    sdc_sampler_add_noise(s, 0, x0, noise, latent);
}

void sdc_sampler_model_input(const sdc_sampler *s, const float *latent, float *input)
{
    if (s->kdiff) { /* CompVisDenoiser: c_in = 1 / sqrt(sigma^2 + 1) */
        float sigma = s->call_sigma[s->index];
        float c_in = 1.0f / sqrtf(sigma * sigma + 1.0f);
        for (size_t i = 0; i < s->n; i++)
            input[i] = latent[i] * c_in;
    } else if (diffusers_sigma_algo(s)) { /* scale_model_input */
        float sigma = s->call_sigma[s->index];
        float scale = sqrtf(sigma * sigma + 1.0f);
        for (size_t i = 0; i < s->n; i++)
            input[i] = latent[i] / scale;
    } else {
        memmove(input, latent, s->n * sizeof *input);
    }
}

/* k-diffusion's denoiser scalings at sigma: CompVisDenoiser (eps) returns
 * x + eps * (-sigma); CompVisVDenoiser (v) returns v * c_out + x * c_skip. */
typedef struct kdiff_scalings {
    int v;
    float c_skip, c_out;
} kdiff_scalings;

static kdiff_scalings kdiff_scalings_at(const sdc_sampler *s)
{
    float sigma = s->call_sigma[s->index];
    if (s->p.prediction == SDC_PREDICTION_EPS)
        return (kdiff_scalings){0, 1.0f, -sigma};
    float sq = sigma * sigma + 1.0f;
    return (kdiff_scalings){1, 1.0f / sq, -sigma / sqrtf(sq)};
}

static inline float denoised(kdiff_scalings k, float x, float out)
{
    return k.v ? out * k.c_out + x * k.c_skip : x + out * k.c_out;
}

/* Element by element, so guided may alias uncond or cond. */
void sdc_sampler_guide(const sdc_sampler *s, const float *latent, const float *uncond,
                       const float *cond, float cfg_scale, float *guided)
{
    if (!s->kdiff) {
        for (size_t i = 0; i < s->n; i++)
            guided[i] = uncond ? uncond[i] + cfg_scale * (cond[i] - uncond[i]) : cond[i];
        return;
    }
    kdiff_scalings k = kdiff_scalings_at(s);
    for (size_t i = 0; i < s->n; i++) {
        float d_cond = denoised(k, latent[i], cond[i]);
        if (!uncond) {
            guided[i] = d_cond;
            continue;
        }
        float d_uncond = denoised(k, latent[i], uncond[i]);
        guided[i] = d_uncond + (d_cond - d_uncond) * cfg_scale;
    }
}

void sdc_sampler_guide_multi(const sdc_sampler *s, const float *latent, const float *uncond,
                             const float *conds, const float *scale, int count, float *guided)
{
    /* k-diffusion mixes the denoised images, diffusers the raw outputs */
    kdiff_scalings k = s->kdiff ? kdiff_scalings_at(s) : (kdiff_scalings){0, 1.0f, 0.0f};
    for (size_t i = 0; i < s->n; i++) {
        float u = s->kdiff ? denoised(k, latent[i], uncond[i]) : uncond[i];
        float acc = u;
        for (int j = 0; j < count; j++) {
            float c = conds[(size_t)j * s->n + i];
            acc += ((s->kdiff ? denoised(k, latent[i], c) : c) - u) * scale[j];
        }
        guided[i] = acc;
    }
}

/* A1111's create_noise_sampler: one tree per image, seeded with its seed, over the whole
 * schedule (img2img too: its sample_img2img passes all the sigmas, not the ones it runs). */
static sdc_status make_tree(sdc_sampler *s, const sdc_rng *rng)
{
    float lo = INFINITY, hi = 0.0f;
    for (int i = 0; i < s->n_sigmas; i++) {
        float sigma = s->sigmas[i];
        if (sigma > 0.0f && sigma < lo)
            lo = sigma;
        if (sigma > hi)
            hi = sigma;
    }
    return sdc_brownian_create(rng->type, rng->seed, lo, hi, s->n, &s->tree);
}

sdc_status sdc_sampler_step(sdc_sampler *s, const float *guided, float *latent, sdc_rng *rng)
{
    if (s->index >= s->n_calls)
        return sdc_fail(SDC_ERR_ARG, "sampler: all %d calls are done",
                        sdc_sampler_num_calls(s));
    if (s->kdiff && sdc_sampler_brownian(s) && !s->tree) {
        sdc_status st = make_tree(s, rng);
        if (st != SDC_OK)
            return st;
    }
    switch (s->algo) {
    case SDC_ALGO_DDIM:
    case SDC_ALGO_DDPM:
    case SDC_ALGO_LCM:
        sdc_sampler_step_alpha(s, guided, latent, rng);
        break;
    case SDC_ALGO_EULER:
    case SDC_ALGO_EULER_A:
    case SDC_ALGO_HEUN:
        sdc_sampler_step_sigma(s, guided, latent, rng);
        break;
    case SDC_ALGO_DPMPP_2M:
        sdc_sampler_step_dpm(s, guided, latent);
        break;
    case SDC_ALGO_UNIPC:
        sdc_sampler_step_unipc(s, guided, latent);
        break;
    default:
        sdc_sampler_step_kdiff(s, guided, latent, rng);
        break;
    }
    s->index++;
    return SDC_OK;
}
