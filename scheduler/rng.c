/* The generator interface: dispatch on the type, names for the CLI and metadata. */
#include "scheduler/rng.h"

#include <string.h>

#include "ops/names.h"

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

/* The generators by the names of --rng, job files and reports; the display name is
 * AUTOMATIC1111's "RNG" in PNG metadata. */
static const sdc_name_row rng_rows[] = {
    [SDC_RNG_TYPE_CPU] = {"cpu", NULL, "CPU", "PyTorch CPU generator: diffusers"},
    [SDC_RNG_TYPE_CUDA] = {"cuda", NULL, "NV", "Philox: AUTOMATIC1111, sd.cpp"},
};

/* sdc_rng_count, _name, _display_name, _description, _from_name (include/sdc.h) */
SDC_NAME_TABLE_API(sdc_rng, rng_rows)
