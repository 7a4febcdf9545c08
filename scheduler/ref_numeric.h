/* The handful of numpy / torch routines that schedules are built from, reproduced with the
 * reference's own rounding (the goldens compare timesteps bit for bit, so "the same formula"
 * is not enough: the order of operations and the precision have to match too). */
#ifndef SDC_SCHEDULER_REF_NUMERIC_H
#define SDC_SCHEDULER_REF_NUMERIC_H

#include <stddef.h>

/* torch.linspace(start, end, n, dtype=float32) on the CPU, and its element idx alone. */
void sdc_torch_linspace_f32(float start, float end, size_t n, float *out);
float sdc_torch_linspace_f32_at(float start, float end, size_t n, size_t idx);
/* Element idx of torch.linspace(start, end, n, dtype=float64) on the CPU. */
double sdc_torch_linspace_f64_at(double start, double end, size_t n, size_t idx);

/* np.linspace(start, stop, n, endpoint) in float64. */
void sdc_np_linspace(double start, double stop, size_t n, int endpoint, double *out);
/* Element i of that linspace. */
double sdc_np_linspace_at(double start, double stop, size_t n, int endpoint, size_t i);
/* Length of np.arange(start, stop, step) for float arguments (0 when empty). */
size_t sdc_np_arange_len(double start, double stop, double step);
/* np.arange(start, stop, step) for float arguments: out must hold sdc_np_arange_len. */
void sdc_np_arange(double start, double stop, double step, double *out);

/* np.log of a float32 array element (numpy's SIMD float32 log, not logf). */
float sdc_np_logf(float v);

/* torch's float log / exp / expm1 of a tensor element (SLEEF's u10 functions, which
 * differ from libm's by an ulp here and there). */
float sdc_torch_logf(float v);
float sdc_torch_expf(float v);
float sdc_torch_expm1f(float v);

/* Reverses n doubles in place. */
void sdc_reverse_f64(double *v, size_t n);

#endif
