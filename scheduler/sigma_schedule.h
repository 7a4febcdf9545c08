/* Sigma schedules and the sigma <-> timestep maps of the two formulations.
 *
 * diffusers computes in numpy float64 (NumPy 1.x scalar rules) from float32 model sigmas;
 * k-diffusion computes in torch float32 from the LDM model sigmas. All arrays here run from
 * high noise to low; model sigmas / log-sigmas are indexed by training timestep [T]. */
#ifndef SDC_SCHEDULER_SIGMA_SCHEDULE_H
#define SDC_SCHEDULER_SIGMA_SCHEDULE_H

#include <stddef.h>

/* ---- diffusers (float64) ---- */

/* np.interp(timesteps, arange(T), model_sigmas): one sigma per timestep. */
void sdc_sigmas_interp(const float *model_sigmas, int count, const double *timesteps, size_t n,
                       double *out);
/* _convert_to_karras: n sigmas from sigma_max down to sigma_min, rho = 7. */
void sdc_sigmas_karras_f64(double sigma_min, double sigma_max, size_t n, double *out);
/* _sigma_to_t: the fractional timestep of sigma by log-sigma interpolation. */
double sdc_sigma_to_t_f64(double sigma, const float *log_sigmas, int count);

/* ---- k-diffusion (float32) ---- */

/* CompVisDenoiser.get_sigmas(n): t_to_sigma(linspace(T - 1, 0, n)) plus a trailing 0
 * (AUTOMATIC1111's default "discrete" schedule). out: [n + 1]. */
void sdc_kdiff_sigmas_discrete(const float *log_sigmas, int count, size_t n, float *out);
/* get_sigmas_karras(n, sigma_min, sigma_max, rho = 7) plus 0; the bounds are the Python
 * floats AUTOMATIC1111 passes (model sigmas [0] and [T - 1]). out: [n + 1]. */
void sdc_kdiff_sigmas_karras(size_t n, double sigma_min, double sigma_max, float *out);
/* get_sigmas_exponential(n, sigma_min, sigma_max) plus 0. out: [n + 1]. */
void sdc_kdiff_sigmas_exponential(size_t n, double sigma_min, double sigma_max, float *out);
/* DiscreteSchedule.sigma_to_t (no quantisation), and t_to_sigma before its exp. */
float sdc_kdiff_sigma_to_t(float sigma, const float *log_sigmas, int count);
float sdc_kdiff_t_to_log_sigma(float t, const float *log_sigmas, int count);

/* log of each model sigma in float32, as torch (k-diffusion) and numpy (diffusers) take
 * it: the two differ by an ulp here and there, which the timesteps inherit. */
void sdc_log_sigmas_torch(const float *model_sigmas, int count, float *log_sigmas);
void sdc_log_sigmas_numpy(const float *model_sigmas, int count, float *log_sigmas);

#endif
