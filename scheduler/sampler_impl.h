/* Internals shared by the sampler implementations (scheduler/sampler_*.c). */
#ifndef SDC_SCHEDULER_SAMPLER_IMPL_H
#define SDC_SCHEDULER_SAMPLER_IMPL_H

#include "scheduler/sampler.h"

/* Which update rule runs: the formulation is part of it. */
typedef enum sdc_sampler_algo {
    SDC_ALGO_NONE = -1,  /* no such formulation of the sampler */
    SDC_ALGO_DDIM,
    SDC_ALGO_DDPM,
    SDC_ALGO_LCM,
    SDC_ALGO_EULER,      /* diffusers EulerDiscreteScheduler */
    SDC_ALGO_EULER_A,    /* diffusers EulerAncestralDiscreteScheduler */
    SDC_ALGO_HEUN,       /* diffusers HeunDiscreteScheduler */
    SDC_ALGO_DPMPP_2M,   /* diffusers DPMSolverMultistepScheduler */
    SDC_ALGO_UNIPC,      /* diffusers UniPCMultistepScheduler, bh2, order 2 */
    SDC_ALGO_K_EULER,    /* k-diffusion sample_euler */
    SDC_ALGO_K_EULER_A,  /* k-diffusion sample_euler_ancestral */
    SDC_ALGO_K_HEUN,     /* k-diffusion sample_heun */
    SDC_ALGO_K_DPMPP_2M, /* k-diffusion sample_dpmpp_2m */
    SDC_ALGO_K_LMS,      /* sample_lms, order 4 */
    SDC_ALGO_K_DPM2,     /* sample_dpm_2 */
    SDC_ALGO_K_DPM2_A,   /* sample_dpm_2_ancestral */
    SDC_ALGO_K_DPMPP_2S_A, /* sample_dpmpp_2s_ancestral */
    SDC_ALGO_K_DPMPP_SDE,  /* sample_dpmpp_sde (Brownian noise) */
    SDC_ALGO_K_DPMPP_2M_SDE, /* sample_dpmpp_2m_sde, midpoint (Brownian noise) */
    SDC_ALGO_K_DPMPP_2M_SDE_HEUN, /* sample_dpmpp_2m_sde, heun (Brownian noise) */
    SDC_ALGO_K_DPMPP_3M_SDE, /* sample_dpmpp_3m_sde (Brownian noise) */
} sdc_sampler_algo;

/* LMS keeps the derivatives of its last 4 steps. */
#define SDC_LMS_ORDER 4

struct sdc_sampler {
    sdc_sampler_params p;
    sdc_sampler_algo algo;
    int kdiff;
    int num_train;      /* T */
    float *ac;          /* [T] alphas_cumprod (diffusers or LDM precision) */
    float *log_sigmas;  /* [T] log of the model sigmas */
    double *t;          /* [n_calls] UNet timestep of each call (diffusers: .timesteps) */
    float *call_sigma;  /* [n_calls] sigma the model is evaluated at, or NULL */
    int n_calls;        /* all calls of the schedule; the loop runs [start, n_calls) */
    float *sigmas;      /* [n_sigmas] sigma schedule, or NULL */
    int n_sigmas;
    int start;          /* first call of the loop (img2img skips the noisiest) */
    int index;          /* next call */
    float init_sigma;
    size_t n;           /* latent_size */
    float *noise;       /* [n] sampler draws */
    float *saved_x;     /* [n] Heun: sample before the first stage */
    float *saved_d;     /* [n] Heun: first derivative; DPM++: previous x0 / denoised */
    int have_saved;     /* DPM++: saved_d holds the previous output */
    float heun_dt;      /* diffusers Heun: dt of the first stage */
    int kstep;          /* k-diffusion: index into sigmas of the current step */
    float *hist;        /* [SDC_LMS_ORDER * n] LMS: past derivatives; 3M SDE: denoised
                           two steps back; UniPC: x0 prediction two steps back; or NULL */
    int hist_count;     /* entries of hist in use (UniPC: its lower_order_nums) */
    int mid_step;       /* k-diffusion: the next call is the second of a step */
    int last_order;     /* UniPC: the order of the last predictor, its corrector's next */
    float h_1, h_2;     /* 2M / 3M SDE: the last two step sizes in log-sigma */
    struct sdc_brownian *tree; /* SDE samplers: the noise, made at the first step */
};

/* The row's facts (scheduler/sampler.c): A1111 drops the next-to-last sigma of a
 * schedule of steps + 1; the sampler's noise comes from a Brownian tree. */
int sdc_sampler_discards_penultimate(sdc_sampler_kind kind);
int sdc_sampler_brownian(const sdc_sampler *s);

/* Per-family schedule setup (fills t, call_sigma, sigmas, init_sigma, ac, log_sigmas);
 * the generic code has allocated nothing but the struct. */
sdc_status sdc_sampler_setup_alpha(sdc_sampler *s);
sdc_status sdc_sampler_setup_sigma(sdc_sampler *s);
sdc_status sdc_sampler_setup_dpm(sdc_sampler *s);
sdc_status sdc_sampler_setup_kdiff(sdc_sampler *s);

/* k-diffusion helpers shared by its samplers (float32, as torch computes them). */
/* get_ancestral_step(from, to, eta = 1). */
void sdc_kdiff_ancestral_step(float from, float to, float *down, float *up);
/* The sigma of the second call of step i, when the step makes one: 0 otherwise. */
float sdc_kdiff_second_sigma(const sdc_sampler *s, int i);
float sdc_dpm2_mid_sigma(const sdc_sampler *s, int i);
float sdc_dpmpp_2s_a_mid_sigma(const sdc_sampler *s, int i);
float sdc_dpmpp_sde_mid_sigma(const sdc_sampler *s, int i);
/* Per-sampler updates of one call (k-diffusion: `den` is the guided denoised image). */
void sdc_step_lms(sdc_sampler *s, const float *den, float *x);
void sdc_step_dpm2(sdc_sampler *s, const float *den, float *x, sdc_rng *rng);
void sdc_step_dpm2_a(sdc_sampler *s, const float *den, float *x, sdc_rng *rng);
void sdc_step_dpmpp_2s_a(sdc_sampler *s, const float *den, float *x, sdc_rng *rng);
void sdc_step_dpmpp_sde(sdc_sampler *s, const float *den, float *x);
void sdc_step_dpmpp_2m_sde(sdc_sampler *s, const float *den, float *x);
void sdc_step_dpmpp_3m_sde(sdc_sampler *s, const float *den, float *x);

/* Per-family updates of one call. */
void sdc_sampler_step_alpha(sdc_sampler *s, const float *out, float *latent, sdc_rng *rng);
void sdc_sampler_step_sigma(sdc_sampler *s, const float *out, float *latent, sdc_rng *rng);
void sdc_sampler_step_dpm(sdc_sampler *s, const float *out, float *latent);
void sdc_sampler_step_unipc(sdc_sampler *s, const float *out, float *latent);

/* diffusers' VP view of a sigma: alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t,
 * lambda_t = log(alpha_t) - log(sigma_t) (float32, torch's log). */
typedef struct sdc_vp_point {
    float alpha, sigma, lambda;
} sdc_vp_point;
sdc_vp_point sdc_vp_at(float sigma);
/* A history buffer of SDC_LMS_ORDER latents (s->hist). */
sdc_status sdc_sampler_alloc_hist(sdc_sampler *s);
void sdc_sampler_step_kdiff(sdc_sampler *s, const float *denoised, float *latent, sdc_rng *rng);

/* Helpers for the setups: allocations owned by the sampler (freed by sdc_sampler_free). */
sdc_status sdc_sampler_alloc_calls(sdc_sampler *s, int n_calls, int with_sigma);
sdc_status sdc_sampler_alloc_sigmas(sdc_sampler *s, int n_sigmas);
/* Training tables: ac in the given precision, and log sigmas from it. */
sdc_status sdc_sampler_alloc_tables(sdc_sampler *s, int ldm_precision);
/* diffusers img2img: the loop starts at timesteps[t_start * order], or at that timestep's
 * second occurrence when it repeats (_init_step_index). */
void sdc_sampler_diffusers_start(sdc_sampler *s, int order);

/* Fails unless every timestep lies in [0, T - 1] (extreme step counts with 'trailing'
 * spacing can round below 0). */
sdc_status sdc_sampler_check_timesteps(const sdc_sampler *s);

/* The decimal a float was written as ("0.7" rather than 0.699999988), the Python float the
 * reference computes with. */
double sdc_decimal_of(float f);

/* DDIM's previous timestep of call i (t - T // N; negative = final alpha). */
int sdc_ddim_prev_timestep(const sdc_sampler *s, int call);

/* diffusers' x0 prediction from eps or v at alphas_cumprod a (DDIM, DDPM, LCM). */
float sdc_alpha_pred_x0(const sdc_sampler *s, float a, float x, float out);

#endif
