#include "unet/freeu.h"

#include <stddef.h>

#include "ops/error.h"

static void plan_free(sdc_freeu_plan *pl)
{
    if (pl->forward)
        fftwf_destroy_plan(pl->forward);
    if (pl->backward)
        fftwf_destroy_plan(pl->backward);
    fftwf_free(pl->space);
    fftwf_free(pl->freq);
    *pl = (sdc_freeu_plan){0};
}

void sdc_freeu_free(sdc_freeu *f)
{
    for (int i = 0; i < f->n_plans; i++)
        plan_free(&f->plans[i]);
    f->n_plans = 0;
}

static sdc_status plan_make(sdc_freeu_plan *pl, int H, int W)
{
    size_t n = (size_t)H * W;
    *pl = (sdc_freeu_plan){.H = H, .W = W};
    pl->space = fftwf_malloc(n * sizeof(fftwf_complex));
    pl->freq = fftwf_malloc(n * sizeof(fftwf_complex));
    if (pl->space && pl->freq) {
        /* FFTW_ESTIMATE: planning must not overwrite the buffers or take long */
        pl->forward = fftwf_plan_dft_2d(H, W, pl->space, pl->freq, FFTW_FORWARD, FFTW_ESTIMATE);
        pl->backward = fftwf_plan_dft_2d(H, W, pl->freq, pl->space, FFTW_BACKWARD, FFTW_ESTIMATE);
    }
    if (!pl->forward || !pl->backward) {
        plan_free(pl);
        return sdc_fail(SDC_ERR_NOMEM, "freeu: cannot make an FFT plan for %d x %d", H, W);
    }
    return SDC_OK;
}

static sdc_status plan_for(sdc_freeu *f, int H, int W, sdc_freeu_plan **out)
{
    for (int i = 0; i < f->n_plans; i++)
        if (f->plans[i].H == H && f->plans[i].W == W) {
            *out = &f->plans[i];
            return SDC_OK;
        }
    if (f->n_plans == SDC_FREEU_MAX_PLANS)
        sdc_freeu_free(f);
    *out = &f->plans[f->n_plans];
    sdc_status s = plan_make(*out, H, W);
    if (s == SDC_OK)
        f->n_plans++;
    return s;
}

/* freq [H, W] *= s at rows {0, H-1} x cols {0, W-1}: frequencies {0, -1}, which fftshift puts
 * at H/2, H/2-1 (one row / column when the size is 1). */
static void scale_low_frequencies(fftwf_complex *freq, int H, int W, float s)
{
    int rows[2] = {0, H - 1}, cols[2] = {0, W - 1};
    int n_rows = H > 1 ? 2 : 1, n_cols = W > 1 ? 2 : 1;
    for (int i = 0; i < n_rows; i++)
        for (int j = 0; j < n_cols; j++) {
            fftwf_complex *c = &freq[(size_t)rows[i] * W + cols[j]];
            (*c)[0] *= s;
            (*c)[1] *= s;
        }
}

sdc_status sdc_freeu_fourier_filter(sdc_freeu *f, float *x, int planes, int H, int W, float s)
{
    sdc_freeu_plan *pl;
    sdc_status st = plan_for(f, H, W, &pl);
    if (st != SDC_OK)
        return st;
    size_t n = (size_t)H * W;
    float inv_n = 1.0f / (float)n;
    for (int c = 0; c < planes; c++) {
        float *xc = x + (size_t)c * n;
        for (size_t i = 0; i < n; i++) {
            pl->space[i][0] = xc[i];
            pl->space[i][1] = 0.0f;
        }
        fftwf_execute(pl->forward);
        scale_low_frequencies(pl->freq, H, W, s);
        fftwf_execute(pl->backward);
        for (size_t i = 0; i < n; i++)
            xc[i] = pl->space[i][0] * inv_n; /* real part of the normalised inverse */
    }
    return SDC_OK;
}

sdc_status sdc_freeu_apply(sdc_freeu *f, int level, float *h, int Ch, float *skip, int Cs, int B,
                           int H, int W)
{
    if (!f->enabled || level < 0 || level >= SDC_FREEU_LEVELS)
        return SDC_OK;
    float b = level == 0 ? f->params.b1 : f->params.b2;
    float s = level == 0 ? f->params.s1 : f->params.s2;
    size_t HW = (size_t)H * W, half = (size_t)(Ch / 2) * HW;
    for (int n = 0; n < B; n++) {
        float *hn = h + (size_t)n * Ch * HW; // [Ch, H, W]
        for (size_t i = 0; i < half; i++)
            hn[i] *= b;
    }
    return sdc_freeu_fourier_filter(f, skip, B * Cs, H, W, s);
}
