/* The generator interface: dispatch on the type, names for the CLI and metadata. */
#include <string.h>

#include "scheduler/rng.h"

void sdc_rng_init(sdc_rng *rng, sdc_rng_type type, uint64_t seed)
{
    memset(rng, 0, sizeof *rng);
    rng->type = type;
    rng->seed = seed;
    /* torch.manual_seed keeps only the low 32 bits for the Mersenne Twister */
    sdc_mt19937_seed(&rng->mt, (uint32_t)seed);
}

void sdc_rng_randn(sdc_rng *rng, float *out, size_t n)
{
    if (rng->type == SDC_RNG_TYPE_CUDA) {
        sdc_rng_philox_randn(rng->seed, rng->philox_offset, out, n);
        rng->philox_offset++;
        return;
    }
    sdc_rng_torch_cpu_randn(rng, out, n);
}

static const char *const rng_names[] = {
    [SDC_RNG_TYPE_CPU] = "cpu",
    [SDC_RNG_TYPE_CUDA] = "cuda",
};

const char *sdc_rng_type_name(sdc_rng_type type)
{
    if ((unsigned)type >= sizeof rng_names / sizeof *rng_names)
        return "unknown";
    return rng_names[type];
}

int sdc_rng_type_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof rng_names / sizeof *rng_names; i++)
        if (name && strcmp(name, rng_names[i]) == 0)
            return (int)i;
    return -1;
}
