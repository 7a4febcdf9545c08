/* diffusers' timestep lists (set_timesteps) for each scheduler family, high to low, as
 * doubles that hold the reference values exactly (int64 or float32 there). */
#ifndef SDC_SCHEDULER_SPACING_H
#define SDC_SCHEDULER_SPACING_H

#include <stddef.h>

#include "scheduler/noise_schedule.h"

typedef enum sdc_spacing {
    SDC_SPACING_LEADING,  /* multiples of T // N, plus steps_offset */
    SDC_SPACING_TRAILING, /* round(arange(T, 0, -T / N)) - 1 */
    SDC_SPACING_LINSPACE, /* linspace(0, T - 1, N) */
} sdc_spacing;

/* Room the functions below need for n steps (trailing's float arange can give one more). */
#define SDC_SPACING_CAPACITY(n) ((size_t)(n) + 1)

/* DDIM and DDPM: integer timesteps. Returns how many were written. */
size_t sdc_spacing_ddim(const sdc_noise_schedule *s, sdc_spacing spacing, int n, double *out);
/* Euler, Euler ancestral, Heun: float32 timesteps, fractional with linspace. */
size_t sdc_spacing_euler(const sdc_noise_schedule *s, sdc_spacing spacing, int n, double *out);
/* DPM-Solver multistep: integer timesteps from n + 1 points without the last. */
size_t sdc_spacing_dpm(const sdc_noise_schedule *s, sdc_spacing spacing, int n, double *out);
/* LCM: n timesteps picked evenly from the original_steps-point distillation schedule
 * (requires 1 <= n <= original_steps <= T). */
size_t sdc_spacing_lcm(const sdc_noise_schedule *s, int original_steps, int n, double *out);

#endif
