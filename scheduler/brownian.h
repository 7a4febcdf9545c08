/* The Brownian tree behind k-diffusion's SDE samplers, as AUTOMATIC1111 runs them: torchsde
 * 0.2.6's BrownianTree (a BrownianInterval with halfway_tree, tol 1e-6, pool_size 24,
 * levy_area_approximation 'none') reproduced value for value.
 *
 * The tree spans [t0, t1]; every time is rounded to 6 decimals (Python's round(x, 6)). A
 * node [a, b] with increment W splits at round((a + b) / 2): the left child's increment is
 * the Brownian bridge (m - a) / (b - a) * W + sqrt((m - a) (b - m) / (b - a)) * Z and the
 * right one W - left, where Z is torch.randn from a generator seeded by the node (numpy's
 * SeedSequence(entropy, spawn_key = (key, depth), pool_size = 24), first word of its
 * state; key = 2 * parent key + (0 left, 1 right), the root (0, 0)). The root's increment
 * is randn(seed of SeedSequence(entropy, pool_size = 24)) * sqrt(t1 - t0). A query [ta, tb]
 * sums the increments of the nodes that tile it, left to right, so the values depend on
 * the seed and the times only, never on the order of the queries.
 *
 * The normal generator of the nodes is torch's CPU generator (SDC_RNG_TYPE_CPU) or the
 * Philox one of AUTOMATIC1111's GPU seeds (SDC_RNG_TYPE_CUDA), seeded with the node's seed. */
#ifndef SDC_SCHEDULER_BROWNIAN_H
#define SDC_SCHEDULER_BROWNIAN_H

#include <stddef.h>
#include <stdint.h>

#include "scheduler/rng.h"
#include "sdc.h"

typedef struct sdc_brownian sdc_brownian;

/* A tree of n-float increments over [t0, t1] (0 <= t0 <= t1 < 1e9) for the seed
 * `entropy` (the image seed). */
sdc_status sdc_brownian_create(sdc_rng_type type, uint64_t entropy, double t0, double t1,
                               size_t n, sdc_brownian **out);
void sdc_brownian_free(sdc_brownian *b);

/* W(tb) - W(ta) for ta <= tb (torchsde's tree(ta, tb)): times outside [t0, t1] are clamped
 * to it, equal times give zeros. out: [n]. */
void sdc_brownian_increment(sdc_brownian *b, double ta, double tb, float *out);

/* k-diffusion's BrownianTreeNoiseSampler(sigma, sigma_next): the increment between the two
 * float32 times, negated when sigma_next < sigma, divided by sqrt(|sigma_next - sigma|):
 * unit-variance noise. out: [n]. */
void sdc_brownian_noise(sdc_brownian *b, float sigma, float sigma_next, float *out);

/* numpy's SeedSequence(entropy, spawn_key=spawn_key[0..n_spawn), pool_size=24)
 * .generate_state(n_words) (uint32 words). */
void sdc_seed_sequence_state(uint64_t entropy, const uint64_t *spawn_key, int n_spawn,
                             uint32_t *out, int n_words);

#endif
