/* k-diffusion's sample_lms (AUTOMATIC1111's "LMS"): linear multistep of order 4 in sigma.
 * Each step keeps d = (x - denoised) / sigma and moves x by the integrals over
 * [sigma_i, sigma_{i+1}] of the Lagrange polynomials through the last (up to 4) sigmas,
 * one per kept d. The reference integrates them with scipy's quad over the float32 sigmas
 * (the denominators are float32 differences); a 4-point Gauss rule is exact for these
 * cubic polynomials. One model call per step, no random draws. */
#include "scheduler/sampler_impl.h"

/* Gauss-Legendre nodes and weights on [-1, 1], 4 points. */
static const double gauss_x[4] = {-0.86113631159405257522, -0.33998104358485626480,
                                  0.33998104358485626480, 0.86113631159405257522};
static const double gauss_w[4] = {0.34785484513745385737, 0.65214515486254614263,
                                  0.65214515486254614263, 0.34785484513745385737};

/* linear_multistep_coeff(order, t, i, j). */
static double lms_coeff(const float *t, int order, int i, int j)
{
    double a = t[i], b = t[i + 1], half = (b - a) / 2, mid = (a + b) / 2, sum = 0;
    for (int g = 0; g < 4; g++) {
        double tau = mid + half * gauss_x[g], prod = 1.0;
        for (int k = 0; k < order; k++)
            if (k != j)
                prod *= (tau - t[i - k]) / (double)(t[i - j] - t[i - k]);
        sum += gauss_w[g] * prod;
    }
    return sum * half;
}

void sdc_step_lms(sdc_sampler *s, const float *den, float *x)
{
    int i = s->kstep, pushed = s->hist_count;
    float sigma = s->sigmas[i];
    float *d = s->hist + (size_t)(pushed % SDC_LMS_ORDER) * s->n;
    for (size_t k = 0; k < s->n; k++)
        d[k] = (x[k] - den[k]) / sigma;
    int order = pushed + 1 < SDC_LMS_ORDER ? pushed + 1 : SDC_LMS_ORDER;
    float coeff[SDC_LMS_ORDER];
    const float *ds[SDC_LMS_ORDER];
    for (int j = 0; j < order; j++) {
        coeff[j] = (float)lms_coeff(s->sigmas, order, i, j);
        ds[j] = s->hist + (size_t)((pushed - j) % SDC_LMS_ORDER) * s->n; /* j steps back */
    }
    for (size_t k = 0; k < s->n; k++) {
        float sum = coeff[0] * ds[0][k];
        for (int j = 1; j < order; j++)
            sum = sum + coeff[j] * ds[j][k];
        x[k] = x[k] + sum;
    }
    s->hist_count++;
    s->kstep++;
}
