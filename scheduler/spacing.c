/* diffusers 0.25.1 set_timesteps spacings; see spacing.h. numpy rounds half to even, which
 * is rint() in the default rounding mode. */
#include <math.h>

#include "scheduler/ref_numeric.h"
#include "scheduler/spacing.h"

/* Multiples of T // n (count of them), high to low, plus offset. */
static size_t leading(int ratio, int count, double offset, double *out)
{
    for (int i = 0; i < count; i++)
        out[i] = (double)(count - 1 - i) * ratio + offset;
    return (size_t)count;
}

/* round(arange(start, 0, -T / n)) - 1, the 'trailing' list. */
static size_t trailing(const sdc_noise_schedule *s, double start, int n, double *out)
{
    double step = -(double)s->num_train_timesteps / n;
    size_t count = sdc_np_arange_len(start, 0.0, step);
    sdc_np_arange(start, 0.0, step, out);
    for (size_t i = 0; i < count; i++)
        out[i] = rint(out[i]) - 1.0;
    return count;
}

size_t sdc_spacing_ddim(const sdc_noise_schedule *s, sdc_spacing spacing, int n, double *out)
{
    int t = s->num_train_timesteps;
    if (spacing == SDC_SPACING_LEADING)
        return leading(t / n, n, s->steps_offset, out);
    if (spacing == SDC_SPACING_TRAILING)
        return trailing(s, t, n, out);
    sdc_np_linspace(0.0, t - 1, (size_t)n, 1, out);
    for (int i = 0; i < n; i++)
        out[i] = rint(out[i]);
    sdc_reverse_f64(out, (size_t)n);
    return (size_t)n;
}

size_t sdc_spacing_euler(const sdc_noise_schedule *s, sdc_spacing spacing, int n, double *out)
{
    if (spacing != SDC_SPACING_LINSPACE)
        return sdc_spacing_ddim(s, spacing, n, out); /* integers: float32 holds them */
    sdc_np_linspace(0.0, s->num_train_timesteps - 1, (size_t)n, 1, out);
    for (int i = 0; i < n; i++)
        out[i] = (float)out[i];
    sdc_reverse_f64(out, (size_t)n);
    return (size_t)n;
}

size_t sdc_spacing_dpm(const sdc_noise_schedule *s, sdc_spacing spacing, int n, double *out)
{
    /* lambda_min_clipped = -inf keeps the whole range: last_timestep = T */
    int last = s->num_train_timesteps;
    if (spacing == SDC_SPACING_LEADING) {
        leading(last / (n + 1), n + 1, s->steps_offset, out);
        return (size_t)n; /* drops the smallest */
    }
    if (spacing == SDC_SPACING_TRAILING)
        return trailing(s, last, n, out);
    sdc_np_linspace(0.0, last - 1, (size_t)n + 1, 1, out);
    for (int i = 0; i <= n; i++)
        out[i] = rint(out[i]);
    sdc_reverse_f64(out, (size_t)n + 1);
    return (size_t)n;
}

size_t sdc_spacing_lcm(const sdc_noise_schedule *s, int original_steps, int n, double *out)
{
    /* the distillation schedule, high to low: (original_steps - j) * k - 1 */
    int k = s->num_train_timesteps / original_steps;
    for (int i = 0; i < n; i++) {
        double pos = floor(sdc_np_linspace_at(0.0, original_steps, (size_t)n, 0, (size_t)i));
        out[i] = (double)((original_steps - (int)pos) * k - 1);
    }
    return (size_t)n;
}
