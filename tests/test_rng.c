/* RNGs: torch CPU randn and AUTOMATIC1111's Philox randn, bit for bit against
 * golden/rng/randn.safetensors (every seed x shape, and consecutive draws of one stream). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/rng.h"
#include "tests/golden.h"

static const char *const seeds[] = {"0", "1", "42", "1234567890", "4294967295",
                                    "9223372036854775807"};
static const char *const shapes[] = {"3", "16", "17", "1x4x8x8", "1x4x64x64", "2x4x96x64"};
/* The manifest's sequence_shapes for seed 42, as element counts. */
static const size_t seq_sizes[] = {256, 3, 17, 256, 1};

/* Counts elements whose bits differ; reports the first. */
static size_t count_bit_mismatches(const float *got, const sdc_st_entry *e, const char *what)
{
    const float *want = e->tensor.data;
    size_t n = (size_t)sdc_tensor_numel(&e->tensor), bad = 0;
    cr_assert_eq(e->tensor.dtype, SDC_DTYPE_F32);
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &want[i], sizeof(float)) == 0)
            continue;
        if (bad++ == 0)
            cr_log_error("%s: first mismatch at %zu: got %.9g want %.9g", what, i,
                         (double)got[i], (double)want[i]);
    }
    return bad;
}

static void check_seed_shape(sdc_rng_type type, const char *prefix, const char *seed,
                             const char *shape)
{
    sdc_safetensors *st = golden_open("rng/randn.safetensors");
    char name[96];
    snprintf(name, sizeof name, "%s.seed%s.%s", prefix, seed, shape);
    const sdc_st_entry *e = golden_get(st, name);
    size_t n = (size_t)sdc_tensor_numel(&e->tensor);
    float *got = malloc(n * sizeof *got);
    sdc_rng rng;
    sdc_rng_init(&rng, type, strtoull(seed, NULL, 10));
    sdc_rng_randn(&rng, got, n);
    size_t bad = count_bit_mismatches(got, e, name);
    cr_expect_eq(bad, 0, "%s: %zu of %zu values differ", name, bad, n);
    free(got);
    sdc_safetensors_close(st);
}

static void check_all(sdc_rng_type type, const char *prefix)
{
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++)
        for (size_t j = 0; j < sizeof shapes / sizeof *shapes; j++)
            check_seed_shape(type, prefix, seeds[i], shapes[j]);
}

static void check_sequence(sdc_rng_type type, const char *prefix)
{
    sdc_safetensors *st = golden_open("rng/randn.safetensors");
    sdc_rng rng;
    sdc_rng_init(&rng, type, 42);
    for (size_t k = 0; k < sizeof seq_sizes / sizeof *seq_sizes; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s.seq42.%zu", prefix, k);
        const sdc_st_entry *e = golden_get(st, name);
        size_t n = (size_t)sdc_tensor_numel(&e->tensor);
        cr_assert_eq(n, seq_sizes[k], "%s has %zu elements", name, n);
        float got[256];
        sdc_rng_randn(&rng, got, n);
        cr_expect_eq(count_bit_mismatches(got, e, name), 0, "%s differs", name);
    }
    sdc_safetensors_close(st);
}

Test(rng, torch_cpu_every_seed_and_shape) { check_all(SDC_RNG_TYPE_CPU, "cpu"); }
Test(rng, torch_cpu_stream_continues_across_calls) { check_sequence(SDC_RNG_TYPE_CPU, "cpu"); }
Test(rng, philox_every_seed_and_shape) { check_all(SDC_RNG_TYPE_CUDA, "philox"); }
Test(rng, philox_offset_advances_per_call) { check_sequence(SDC_RNG_TYPE_CUDA, "philox"); }

Test(rng, seeds_share_low_32_bits_on_cpu)
{
    /* torch.manual_seed keeps the low 32 bits: 2^32 - 1 and 2^64 - 1 draw the same values */
    sdc_rng a, b;
    float x[20], y[20];
    sdc_rng_init(&a, SDC_RNG_TYPE_CPU, UINT64_C(4294967295));
    sdc_rng_init(&b, SDC_RNG_TYPE_CPU, UINT64_MAX);
    sdc_rng_randn(&a, x, 20);
    sdc_rng_randn(&b, y, 20);
    cr_expect_eq(memcmp(x, y, sizeof x), 0);
}

Test(rng, names_round_trip)
{
    cr_expect_eq(sdc_rng_from_name("cpu"), SDC_RNG_TYPE_CPU);
    cr_expect_eq(sdc_rng_from_name("cuda"), SDC_RNG_TYPE_CUDA);
    cr_expect_eq(sdc_rng_from_name("gpu"), -1);
    cr_expect_str_eq(sdc_rng_name(SDC_RNG_TYPE_CUDA), "cuda");
}
