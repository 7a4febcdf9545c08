/* Betas and alphas_cumprod in the diffusers and LDM precisions; see noise_schedule.h. */
#include <math.h>

#include "ops/error.h"
#include "scheduler/noise_schedule.h"
#include "scheduler/ref_numeric.h"

/* Far above any real schedule, small enough that T-sized tables stay trivial. */
#define MAX_TRAIN_TIMESTEPS 100000

sdc_noise_schedule sdc_noise_schedule_sd(void)
{
    return (sdc_noise_schedule){
        .num_train_timesteps = 1000,
        .beta_start = 0.00085,
        .beta_end = 0.012,
        .beta_schedule = SDC_BETA_SCALED_LINEAR,
        .steps_offset = 1,
    };
}

sdc_noise_schedule sdc_noise_schedule_x4(void)
{
    sdc_noise_schedule s = sdc_noise_schedule_sd();
    s.beta_start = 0.0001;
    s.beta_end = 0.02;
    return s;
}

sdc_status sdc_noise_schedule_check(const sdc_noise_schedule *s, const char *what)
{
    if (s->num_train_timesteps < 2 || s->num_train_timesteps > MAX_TRAIN_TIMESTEPS)
        return sdc_fail(SDC_ERR_ARG, "%s: num_train_timesteps %d is outside [2, %d]", what,
                        s->num_train_timesteps, MAX_TRAIN_TIMESTEPS);
    if (!(s->beta_start > 0 && s->beta_end < 1 && s->beta_start <= s->beta_end))
        return sdc_fail(SDC_ERR_ARG, "%s: betas [%g, %g] are not 0 < start <= end < 1", what,
                        s->beta_start, s->beta_end);
    if (s->beta_schedule != SDC_BETA_SCALED_LINEAR && s->beta_schedule != SDC_BETA_LINEAR)
        return sdc_fail(SDC_ERR_ARG, "%s: unknown beta schedule %d", what, (int)s->beta_schedule);
    if (s->steps_offset < 0 || s->steps_offset >= s->num_train_timesteps)
        return sdc_fail(SDC_ERR_ARG, "%s: steps_offset %d is outside [0, %d)", what,
                        s->steps_offset, s->num_train_timesteps);
    return SDC_OK;
}

void sdc_betas_diffusers(const sdc_noise_schedule *s, float *betas)
{
    size_t n = (size_t)s->num_train_timesteps;
    if (s->beta_schedule == SDC_BETA_LINEAR) {
        sdc_torch_linspace_f32((float)s->beta_start, (float)s->beta_end, n, betas);
        return;
    }
    sdc_torch_linspace_f32((float)sqrt(s->beta_start), (float)sqrt(s->beta_end), n, betas);
    for (size_t i = 0; i < n; i++)
        betas[i] = betas[i] * betas[i];
}

void sdc_alphas_cumprod_diffusers(const sdc_noise_schedule *s, float *ac)
{
    sdc_betas_diffusers(s, ac);
    double prod = 1.0;
    for (int i = 0; i < s->num_train_timesteps; i++) {
        prod *= (double)(1.0f - ac[i]);
        ac[i] = (float)prod;
    }
}

void sdc_alphas_cumprod_ldm(const sdc_noise_schedule *s, float *ac)
{
    int linear = s->beta_schedule == SDC_BETA_LINEAR;
    double start = linear ? s->beta_start : sqrt(s->beta_start);
    double end = linear ? s->beta_end : sqrt(s->beta_end);
    double prod = 1.0;
    for (int i = 0; i < s->num_train_timesteps; i++) {
        double b = sdc_torch_linspace_f64_at(start, end, (size_t)s->num_train_timesteps,
                                             (size_t)i);
        if (!linear)
            b = b * b;
        prod *= 1.0 - b;
        ac[i] = (float)prod;
    }
}

void sdc_sigmas_from_alphas_cumprod(const float *ac, int count, float *sigmas)
{
    for (int i = 0; i < count; i++)
        sigmas[i] = sqrtf((1.0f - ac[i]) / ac[i]);
}
