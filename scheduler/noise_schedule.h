/* The training noise schedule (betas, alphas_cumprod) and the model sigmas derived from it.
 *
 * Two precisions exist in the wild and the goldens hold both:
 *   diffusers  betas = torch.linspace(float32) ** 2, alphas_cumprod = torch.cumprod of the
 *              float32 alphas (torch accumulates in double, rounds each element to float32);
 *   ldm        the same schedule in float64, rounded to float32 at the end: the buffer
 *              LDM checkpoints carry and k-diffusion / AUTOMATIC1111 use.
 * They differ in the last bits (up to 4.8e-7). */
#ifndef SDC_SCHEDULER_NOISE_SCHEDULE_H
#define SDC_SCHEDULER_NOISE_SCHEDULE_H

#include "sdc.h"

typedef enum sdc_beta_schedule {
    SDC_BETA_SCALED_LINEAR, /* betas = linspace(sqrt(start), sqrt(end))^2 (every SD model) */
    SDC_BETA_LINEAR,        /* betas = linspace(start, end) */
} sdc_beta_schedule;

typedef struct sdc_noise_schedule {
    int num_train_timesteps; /* T, 1000 */
    double beta_start;       /* 0.00085 */
    double beta_end;         /* 0.012 */
    sdc_beta_schedule beta_schedule;
    int steps_offset;        /* 1: added to diffusers' 'leading' timesteps */
} sdc_noise_schedule;

/* The schedule of every SD 1.x / 2.x model. */
sdc_noise_schedule sdc_noise_schedule_sd(void);
/* The SD 2 x4 upscaler's: scaled_linear 0.0001 .. 0.02 (its sampler's and its low-res
 * image's noise; the latter with steps_offset 0, which adding noise does not use). */
sdc_noise_schedule sdc_noise_schedule_x4(void);

/* Rejects sizes and betas no schedule can have; the message names `what`. */
sdc_status sdc_noise_schedule_check(const sdc_noise_schedule *s, const char *what);

/* [T] betas, diffusers precision. */
void sdc_betas_diffusers(const sdc_noise_schedule *s, float *betas);
/* [T] alphas_cumprod, diffusers precision. */
void sdc_alphas_cumprod_diffusers(const sdc_noise_schedule *s, float *ac);
/* [T] alphas_cumprod, LDM precision (float64 rounded once). */
void sdc_alphas_cumprod_ldm(const sdc_noise_schedule *s, float *ac);
/* [T] sigma_t = ((1 - ac) / ac) ** 0.5 in float32. */
void sdc_sigmas_from_alphas_cumprod(const float *ac, int count, float *sigmas);

#endif
