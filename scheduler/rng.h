/* Random number generators that reproduce the noise of the reference programs bit for bit.
 *
 *   SDC_RNG_TYPE_CPU   torch's CPU generator (torch.manual_seed + torch.randn): what diffusers
 *                      and ComfyUI draw on a CPU.
 *   SDC_RNG_TYPE_CUDA  AUTOMATIC1111's Philox imitation of torch.randn on a CUDA device.
 *
 * One generator per image: every draw (initial latent, VAE posterior noise, sampler noise)
 * continues the same stream, in the order the reference code draws. */
#ifndef SDC_SCHEDULER_RNG_H
#define SDC_SCHEDULER_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "scheduler/rng_mt19937.h"
#include "sdc.h"

typedef struct sdc_rng {
    sdc_rng_type type;
    uint64_t seed;
    /* SDC_RNG_TYPE_CPU */
    sdc_mt19937 mt;
    int has_cached_normal; /* Box-Muller's second value, kept by torch between calls */
    double cached_normal;
    /* SDC_RNG_TYPE_CUDA: one Philox counter block per randn call */
    uint64_t philox_offset;
} sdc_rng;

void sdc_rng_init(sdc_rng *rng, sdc_rng_type type, uint64_t seed);

/* One torch.randn(shape) call with numel(shape) = n: n standard normal floats. */
void sdc_rng_randn(sdc_rng *rng, float *out, size_t n);

/* The generator-specific halves of sdc_rng_randn. */
void sdc_rng_torch_cpu_randn(sdc_rng *rng, float *out, size_t n);
void sdc_rng_philox_randn(uint64_t seed, uint64_t offset, float *out, size_t n);

#endif
