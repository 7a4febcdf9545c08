/* Samplers: the denoising loop's update rule, driven by the pipeline without knowing which
 * sampler runs. Two formulations are implemented, each matching its reference bit for bit
 * where the goldens demand it:
 *   diffusers 0.25.1 schedulers (DDIM, DDPM, LCM, Euler, Euler a, Heun, DPM++ 2M, UniPC) with the
 *     'linspace' / 'leading' / 'trailing' timestep spacings;
 *   k-diffusion samplers (euler, euler_ancestral, heun, dpmpp_2m, lms, dpm_2,
 *     dpm_2_ancestral, dpmpp_2s_ancestral, dpmpp_sde, dpmpp_2m_sde, dpmpp_3m_sde) over a
 *     CompVisDenoiser, with the 'discrete', 'karras' and 'exponential' schedules, called as
 *     AUTOMATIC1111 calls them (its default schedule per sampler, its discarded next-to-last
 *     sigma, its Brownian-tree noise for the SDE samplers).
 * docs/schedulers.md maps the CLI names onto them.
 *
 * The loop, for a latent batch of latent_size floats [B, 4, H/8, W/8]:
 *
 *   sdc_sampler_create(&params, &s);
 *   sdc_rng_randn(rng, noise, n);  sdc_sampler_start_txt2img(s, noise, latent);
 *   while (sdc_sampler_call_index(s) < sdc_sampler_num_calls(s)) {
 *       t = sdc_sampler_timestep(s);
 *       sdc_sampler_model_input(s, latent, x_in);        // the UNet's input (both CFG rows)
 *       ... UNet(x_in, t) -> out_uncond, out_cond (eps or v) ...
 *       sdc_sampler_guide(s, latent, out_uncond, out_cond, cfg, guided);
 *       sdc_sampler_step(s, guided, latent, rng);         // may draw noise from rng
 *   }
 *
 * Second-order samplers (Heun, DPM2, DPM2 a, DPM++ 2S a, DPM++ SDE) evaluate the model twice
 * per step: each evaluation is one call, and between the two calls `latent` holds the
 * intermediate point the second call evaluates. The SDE samplers draw their noise from a
 * Brownian tree seeded with the generator's seed (scheduler/brownian.h), of the generator's
 * kind, instead of from the generator's stream.
 * After the last call `latent` is the result. */
#ifndef SDC_SCHEDULER_SAMPLER_H
#define SDC_SCHEDULER_SAMPLER_H

#include <stddef.h>

#include "scheduler/noise_schedule.h"
#include "scheduler/rng.h"
#include "sdc.h"

typedef enum sdc_sampler_kind {
    SDC_SAMPLER_EULER_A,
    SDC_SAMPLER_EULER,
    SDC_SAMPLER_HEUN,
    SDC_SAMPLER_DPMPP_2M,
    SDC_SAMPLER_DDIM,
    SDC_SAMPLER_DDPM,
    SDC_SAMPLER_LCM,
    SDC_SAMPLER_LMS,
    SDC_SAMPLER_DPM2,
    SDC_SAMPLER_DPM2_A,
    SDC_SAMPLER_DPMPP_2S_A,
    SDC_SAMPLER_DPMPP_SDE,
    SDC_SAMPLER_DPMPP_2M_SDE,
    SDC_SAMPLER_DPMPP_2M_SDE_HEUN,
    SDC_SAMPLER_DPMPP_3M_SDE,
    SDC_SAMPLER_UNIPC,
    SDC_SAMPLER_KIND_COUNT
} sdc_sampler_kind;

typedef enum sdc_schedule {
    SDC_SCHEDULE_DEFAULT,     /* the sampler's own (sdc_sampler_default_scheduler) */
    SDC_SCHEDULE_DISCRETE,    /* k-diffusion: t_to_sigma(linspace(T - 1, 0, N)) */
    SDC_SCHEDULE_KARRAS,      /* k-diffusion: get_sigmas_karras */
    SDC_SCHEDULE_EXPONENTIAL, /* k-diffusion: get_sigmas_exponential */
    SDC_SCHEDULE_LINSPACE,    /* diffusers timestep spacings */
    SDC_SCHEDULE_LEADING,
    SDC_SCHEDULE_TRAILING,
    SDC_SCHEDULE_COUNT
} sdc_schedule;

typedef struct sdc_sampler_params {
    sdc_sampler_kind kind;
    sdc_schedule schedule;
    int karras_sigmas;          /* diffusers spacings only: use_karras_sigmas (euler, heun,
                                   dpm++2m) */
    sdc_prediction prediction;
    int steps;                  /* inference steps N */
    float strength;             /* img2img: 1 starts from pure noise */
    int img2img_steps;          /* img2img: 0 = the steps strength gives; N = the last N
                                   steps of the schedule of `steps` (hires fix) */
    float eta;                  /* DDIM eta; > 0 draws noise every step */
    sdc_noise_schedule train;   /* the model's training schedule */
    int lcm_original_steps;     /* LCM distillation steps, 50 */
    float lcm_timestep_scaling; /* LCM boundary-condition scaling, 10 */
    size_t latent_size;         /* floats in the latent batch */
} sdc_sampler_params;

typedef struct sdc_sampler sdc_sampler;

/* euler_a (k-diffusion, discrete), 20 steps, epsilon, strength 1, SD schedule; the caller
 * sets latent_size. */
sdc_sampler_params sdc_sampler_default_params(void);

/* Validates the parameters (messages name the offending one) and builds the schedule. */
sdc_status sdc_sampler_create(const sdc_sampler_params *params, sdc_sampler **out);
void sdc_sampler_free(sdc_sampler *s);

/* The names of sdc_sampler_kind and sdc_schedule values are the public tables
 * sdc_sampler_name / sdc_scheduler_name (include/sdc.h), indexed by these enums. */

/* The steps AUTOMATIC1111 builds prompt schedules over for `steps` sampling steps
 * (SamplerData.total_steps): twice the steps for its second-order samplers (Heun; a row of
 * the sampler table says so), else the steps. The step counter rises once per model call. */
int sdc_sampler_schedule_steps(sdc_sampler_kind kind, int steps);

/* 1 for the k-diffusion formulation, 0 for diffusers. */
int sdc_sampler_is_kdiffusion(const sdc_sampler *s);
/* UNet calls the loop makes (img2img: only the remaining ones). */
int sdc_sampler_num_calls(const sdc_sampler *s);
/* Calls completed so far, 0 .. num_calls. */
int sdc_sampler_call_index(const sdc_sampler *s);
/* 1 between the two calls of a second-order step (the next call finishes the step), else 0: where a
 * different model may not take over. */
int sdc_sampler_mid_step(const sdc_sampler *s);
/* Timestep the UNet receives at the next call (fractional for some schedules). */
double sdc_sampler_timestep(const sdc_sampler *s);
/* Multiplier of the initial noise for txt2img. */
float sdc_sampler_init_noise_sigma(const sdc_sampler *s);

/* txt2img: latent = noise * init_noise_sigma. [latent_size] each. */
void sdc_sampler_start_txt2img(const sdc_sampler *s, const float *noise, float *latent);
/* img2img: the clean latent x0 noised to the level of the first call. */
void sdc_sampler_start_img2img(const sdc_sampler *s, const float *x0, const float *noise,
                               float *latent);
/* x0 noised to the level of loop call `call` (0 .. num_calls - 1), as inpainting's latent
 * blending does with the next call's timestep; call == num_calls gives x0 itself. */
void sdc_sampler_add_noise(const sdc_sampler *s, int call, const float *x0, const float *noise,
                           float *out);

/* The UNet input for the next call: the latent scaled by the sampler's c_in. */
void sdc_sampler_model_input(const sdc_sampler *s, const float *latent, float *input);
/* Classifier-free guidance of the raw UNet outputs (uncond NULL: no guidance, cond used as
 * is) into what sdc_sampler_step takes: diffusers mixes the model outputs,
 * uncond + cfg * (cond - uncond); k-diffusion mixes the denoised images the same way.
 * `latent` is the unscaled latent of this call; guided may alias uncond or cond. */
void sdc_sampler_guide(const sdc_sampler *s, const float *latent, const float *uncond,
                       const float *cond, float cfg_scale, float *guided);
/* Composable guidance (AUTOMATIC1111's AND): guided = u + sum_i (c_i - u) * scale[i] in the
 * same space as sdc_sampler_guide, u the unconditional output, c_i = conds + i * latent_size;
 * scale[i] = weight_i * cfg. guided may alias none of the inputs. */
void sdc_sampler_guide_multi(const sdc_sampler *s, const float *latent, const float *uncond,
                             const float *conds, const float *scale, int count, float *guided);
/* Advances one call: updates latent in place, drawing from rng where the reference draws.
 * Fails (SDC_ERR_ARG) once the loop is complete. */
sdc_status sdc_sampler_step(sdc_sampler *s, const float *guided, float *latent, sdc_rng *rng);

/* The denoised prediction x0 [latent_size] of the call about to be stepped, from the same
 * latent and guided output sdc_sampler_step takes (call it before the step): what live
 * previews show. k-diffusion's guided output is x0 already; diffusers' formulations convert
 * eps or v as their update does (LCM with its boundary condition). No-op once complete. */
void sdc_sampler_denoised(const sdc_sampler *s, const float *latent, const float *guided,
                          float *x0);

/* The schedule as the reference holds it (for tests and logs): diffusers'
 * scheduler.timesteps, or k-diffusion's UNet timestep of every call; and the sigmas
 * (diffusers scheduler.sigmas, k-diffusion's schedule with its trailing 0), or NULL for
 * DDIM / DDPM / LCM. */
const double *sdc_sampler_timesteps(const sdc_sampler *s, int *count);
const float *sdc_sampler_sigmas(const sdc_sampler *s, int *count);

#endif
