/* FreeU (Si et al. 2023) as diffusers 0.25.1 applies it: in the first two decoder levels
 * (up_blocks[0] with b1, s1 and up_blocks[1] with b2, s2; LDM output_blocks 0-2 and 3-5),
 * before each resnet,
 *   - the first half of the backbone (hidden state) channels is multiplied by b;
 *   - the skip tensor goes through a Fourier filter: 2-D FFT over (H, W) per channel, the
 *     frequencies {-1, 0} x {-1, 0} (the fftshift-ed centre rows H/2-1..H/2, cols
 *     W/2-1..W/2) multiplied by s, inverse FFT, real part.
 * FFT plans are made once per (H, W) with fftw3f and kept. The FFTW planner is not
 * thread-safe: do not make plans (the first FreeU pass at a new size) in two threads at
 * once. */
#ifndef SDC_UNET_FREEU_H
#define SDC_UNET_FREEU_H

#include <fftw3.h>

#include "sdc.h"

typedef struct sdc_freeu_params {
    float b1, b2; /* backbone scales of decoder levels 0 and 1 */
    float s1, s2; /* skip low-frequency scales of decoder levels 0 and 1 */
} sdc_freeu_params;

/* Plans are kept for this many feature-map sizes; more sizes replace them all. */
#define SDC_FREEU_MAX_PLANS 8

typedef struct sdc_freeu_plan {
    int H, W;
    fftwf_complex *space; /* [H, W] one channel in the spatial domain */
    fftwf_complex *freq;  /* [H, W] its spectrum */
    fftwf_plan forward;   /* space -> freq */
    fftwf_plan backward;  /* freq -> space (unnormalised) */
} sdc_freeu_plan;

typedef struct sdc_freeu {
    int enabled;
    sdc_freeu_params params;
    int n_plans;
    sdc_freeu_plan plans[SDC_FREEU_MAX_PLANS];
} sdc_freeu;

/* Number of decoder levels FreeU acts on. */
#define SDC_FREEU_LEVELS 2

/* Before a decoder resnet of decoder level `level`: h [B, Ch, H, W] and skip [B, Cs, H, W],
 * both modified in place. Does nothing when disabled or at levels >= SDC_FREEU_LEVELS. */
sdc_status sdc_freeu_apply(sdc_freeu *f, int level, float *h, int Ch, float *skip, int Cs, int B,
                           int H, int W);

/* skip [planes, H, W] through the Fourier filter with scale s, in place. */
sdc_status sdc_freeu_fourier_filter(sdc_freeu *f, float *x, int planes, int H, int W, float s);

/* Releases the plans (the struct stays usable). */
void sdc_freeu_free(sdc_freeu *f);

#endif
