/* Sigma schedules of diffusers and k-diffusion; see sigma_schedule.h. */
#include <math.h>

#include "scheduler/ref_numeric.h"
#include "scheduler/sigma_schedule.h"

#define KARRAS_RHO 7.0

void sdc_log_sigmas_torch(const float *model_sigmas, int count, float *log_sigmas)
{
    for (int i = 0; i < count; i++)
        log_sigmas[i] = sdc_torch_logf(model_sigmas[i]);
}

void sdc_log_sigmas_numpy(const float *model_sigmas, int count, float *log_sigmas)
{
    for (int i = 0; i < count; i++)
        log_sigmas[i] = sdc_np_logf(model_sigmas[i]);
}


void sdc_sigmas_interp(const float *model_sigmas, int count, const double *timesteps, size_t n,
                       double *out)
{
    for (size_t i = 0; i < n; i++) {
        double x = timesteps[i];
        /* np.interp reads the float32 table as float64 */
        if (!(x > 0.0)) {
            out[i] = model_sigmas[0];
        } else if (x >= count - 1) {
            out[i] = model_sigmas[count - 1];
        } else {
            size_t j = (size_t)x;
            double lo = model_sigmas[j], hi = model_sigmas[j + 1];
            out[i] = (double)j == x ? lo : (hi - lo) * (x - (double)j) + lo;
        }
    }
}

void sdc_sigmas_karras_f64(double sigma_min, double sigma_max, size_t n, double *out)
{
    double min_inv_rho = pow(sigma_min, 1.0 / KARRAS_RHO);
    double max_inv_rho = pow(sigma_max, 1.0 / KARRAS_RHO);
    for (size_t i = 0; i < n; i++) {
        double ramp = sdc_np_linspace_at(0.0, 1.0, n, 1, i);
        out[i] = pow(max_inv_rho + ramp * (min_inv_rho - max_inv_rho), KARRAS_RHO);
    }
}

/* Index of the last log-sigma <= x (the table ascends), clipped to [0, count - 2]; 0 when
 * x is below them all (argmax of an all-zero cumsum). */
static int low_index_f64(double x, const float *log_sigmas, int count)
{
    int low = 0;
    for (int i = 0; i < count; i++)
        if (x - (double)log_sigmas[i] >= 0)
            low = i;
    return low > count - 2 ? count - 2 : low;
}

static int low_index_f32(float x, const float *log_sigmas, int count)
{
    int low = 0;
    for (int i = 0; i < count; i++)
        if (x - log_sigmas[i] >= 0)
            low = i;
    return low > count - 2 ? count - 2 : low;
}

static float clamp01(float w)
{
    return w < 0.0f ? 0.0f : (w > 1.0f ? 1.0f : w);
}

/* NumPy 1.x: log_sigma is a float64 scalar but low / high are float32 arrays, so the
 * weight is computed in float32; (1 - w) * low_idx mixes float32 with int64 -> float64. */
double sdc_sigma_to_t_f64(double sigma, const float *log_sigmas, int count)
{
    double log_sigma = log(sigma > 1e-10 ? sigma : 1e-10);
    int low = low_index_f64(log_sigma, log_sigmas, count);
    float lo = log_sigmas[low], hi = log_sigmas[low + 1];
    float w = clamp01((lo - (float)log_sigma) / (lo - hi));
    return (double)(1.0f - w) * low + (double)w * (low + 1);
}

float sdc_kdiff_sigma_to_t(float sigma, const float *log_sigmas, int count)
{
    float log_sigma = sdc_torch_logf(sigma);
    int low = low_index_f32(log_sigma, log_sigmas, count);
    float lo = log_sigmas[low], hi = log_sigmas[low + 1];
    float w = clamp01((lo - log_sigma) / (lo - hi));
    return (1.0f - w) * (float)low + w * (float)(low + 1);
}

float sdc_kdiff_t_to_log_sigma(float t, const float *log_sigmas, int count)
{
    int low = (int)floorf(t), high = (int)ceilf(t);
    if (low < 0)
        low = high = 0;
    if (high > count - 1)
        low = high = count - 1;
    float w = t - truncf(t);
    return (1.0f - w) * log_sigmas[low] + w * log_sigmas[high];
}

void sdc_kdiff_sigmas_discrete(const float *log_sigmas, int count, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        float t = sdc_torch_linspace_f32_at((float)(count - 1), 0.0f, n, i);
        out[i] = sdc_torch_expf(sdc_kdiff_t_to_log_sigma(t, log_sigmas, count));
    }
    out[n] = 0.0f;
}

/* torch float32: the Python-float bounds become float32 scalars of each operation;
 * tensor ** 7.0 is std::pow(float, double) rounded to float. */
void sdc_kdiff_sigmas_karras(size_t n, double sigma_min, double sigma_max, float *out)
{
    double min_inv_rho = pow(sigma_min, 1.0 / KARRAS_RHO);
    double max_inv_rho = pow(sigma_max, 1.0 / KARRAS_RHO);
    float span = (float)(min_inv_rho - max_inv_rho);
    for (size_t i = 0; i < n; i++) {
        float ramp = sdc_torch_linspace_f32_at(0.0f, 1.0f, n, i);
        float base = (float)max_inv_rho + ramp * span;
        out[i] = (float)pow((double)base, KARRAS_RHO);
    }
    out[n] = 0.0f;
}

void sdc_kdiff_sigmas_exponential(size_t n, double sigma_min, double sigma_max, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sdc_torch_expf(
            sdc_torch_linspace_f32_at((float)log(sigma_max), (float)log(sigma_min), n, i));
    out[n] = 0.0f;
}
