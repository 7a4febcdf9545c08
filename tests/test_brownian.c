/* The Brownian tree alone (scheduler/brownian.c): every noise the SDE cases of
 * golden/samplers recorded, for the times the sampler asked for; increments that add up
 * over adjacent intervals; the same values whatever the order of the queries; and numpy's
 * SeedSequence words for known inputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/brownian.h"
#include "tests/golden.h"

#define SET "samplers"

/* Replays brown<k> of every case with Brownian noise. */
Test(brownian, recorded_noise_of_every_sde_case)
{
    json_t *m = golden_set_manifest(SET), *c;
    size_t i, checked = 0;
    json_array_foreach(json_object_get(m, "cases"), i, c) {
        json_t *tree = json_object_get(c, "brownian_tree");
        if (!json_is_true(json_object_get(c, "brownian_noise")) || !tree)
            continue;
        const char *id = json_string_value(json_object_get(c, "id"));
        char rel[256];
        snprintf(rel, sizeof rel, SET "/%s", json_string_value(json_object_get(c, "file")));
        sdc_safetensors *st = golden_open(rel);
        const sdc_st_entry *noise = golden_get(st, "noise");
        size_t n = (size_t)sdc_tensor_numel(&noise->tensor);
        sdc_brownian *b;
        uint64_t entropy = (uint64_t)json_integer_value(json_object_get(tree, "entropy"));
        double t0 = json_real_value(json_object_get(tree, "t0"));
        double t1 = json_real_value(json_object_get(tree, "t1"));
        cr_assert_eq(sdc_brownian_create(SDC_RNG_TYPE_CPU, entropy, t0, t1, n, &b), SDC_OK, "%s",
                     sdc_last_error());
        float *got = malloc(n * sizeof *got);
        for (int k = 0;; k++) {
            char name[32];
            snprintf(name, sizeof name, "brown%d", k);
            const sdc_st_entry *want = sdc_safetensors_find(st, name);
            if (!want)
                break;
            snprintf(name, sizeof name, "brown%d.t", k);
            const double *t = golden_get(st, name)->tensor.data;
            sdc_brownian_noise(b, (float)t[0], (float)t[1], got);
            char what[96];
            snprintf(what, sizeof what, "%s brown%d", id, k);
            expect_close(got, want, golden_set_tol(SET, id, want->name), what);
            checked++;
        }
        free(got);
        sdc_brownian_free(b);
        sdc_safetensors_close(st);
    }
    json_decref(m);
    cr_expect_gt(checked, 0, "no Brownian noise in golden/" SET);
}

enum { N = 64 };

static sdc_brownian *tree(sdc_rng_type type)
{
    sdc_brownian *b;
    cr_assert_eq(sdc_brownian_create(type, 105, 0.0291675, 14.6146, N, &b), SDC_OK);
    return b;
}

static void expect_additive(sdc_rng_type type)
{
    const double t[] = {0.03, 0.2771, 1.5, 1.5000005, 3.25, 9.999999, 14.6146};
    sdc_brownian *b = tree(type);
    float whole[N], part[N], sum[N] = {0};
    size_t count = sizeof t / sizeof *t;
    for (size_t k = 0; k + 1 < count; k++) {
        sdc_brownian_increment(b, t[k], t[k + 1], part);
        for (int i = 0; i < N; i++)
            sum[i] += part[i];
    }
    sdc_brownian_increment(b, t[0], t[count - 1], whole);
    double var = 0;
    for (int i = 0; i < N; i++) {
        cr_expect_float_eq(sum[i], whole[i], 1e-5, "element %d", i);
        var += (double)whole[i] * whole[i] / N;
    }
    /* a Brownian increment over 14.58 has variance 14.58: far from 0 and from 1 */
    cr_expect(var > 3 && var < 60, "variance %g of W over the whole interval", var);
    sdc_brownian_free(b);
}

Test(brownian, increments_add_up_over_adjacent_intervals)
{
    expect_additive(SDC_RNG_TYPE_CPU);
    expect_additive(SDC_RNG_TYPE_CUDA);
}

Test(brownian, query_order_does_not_matter)
{
    const double q[][2] = {{0.5, 0.7}, {3.1, 14.0}, {0.0291675, 0.5}, {0.6, 3.2}};
    enum { Q = sizeof q / sizeof *q };
    float first[Q][N], again[N];
    sdc_brownian *a = tree(SDC_RNG_TYPE_CPU), *b = tree(SDC_RNG_TYPE_CPU);
    for (int k = 0; k < Q; k++)
        sdc_brownian_increment(a, q[k][0], q[k][1], first[k]);
    for (int k = Q - 1; k >= 0; k--) {
        sdc_brownian_increment(b, q[k][0], q[k][1], again);
        cr_expect_eq(memcmp(again, first[k], sizeof again), 0, "query %d", k);
    }
    /* the noise sampler: sign and scale, whichever way the sigmas go */
    float down[N], up[N], w[N];
    sdc_brownian_noise(a, 3.2f, 0.6f, down);
    sdc_brownian_noise(a, 0.6f, 3.2f, up);
    sdc_brownian_increment(a, 0.6f, 3.2f, w);
    float scale = sqrtf(3.2f - 0.6f);
    for (int i = 0; i < N; i++) {
        cr_expect_eq(down[i], -up[i]);
        cr_expect_eq(up[i], w[i] / scale);
    }
    sdc_brownian_free(a);
    sdc_brownian_free(b);
}

Test(brownian, other_generator_other_values_same_seed_same_values)
{
    float cpu[N], cuda[N], cuda2[N];
    sdc_brownian *a = tree(SDC_RNG_TYPE_CPU), *b = tree(SDC_RNG_TYPE_CUDA);
    sdc_brownian *c = tree(SDC_RNG_TYPE_CUDA);
    sdc_brownian_increment(a, 1, 2, cpu);
    sdc_brownian_increment(b, 1, 2, cuda);
    sdc_brownian_increment(c, 1, 2, cuda2);
    cr_expect_neq(memcmp(cpu, cuda, sizeof cpu), 0);
    cr_expect_eq(memcmp(cuda, cuda2, sizeof cuda), 0);
    sdc_brownian_free(a);
    sdc_brownian_free(b);
    sdc_brownian_free(c);
}

Test(brownian, bad_intervals_are_refused)
{
    sdc_brownian *b;
    cr_expect_neq(sdc_brownian_create(SDC_RNG_TYPE_CPU, 1, 2, 1, N, &b), SDC_OK);
    cr_expect_null(b);
    cr_expect_neq(sdc_brownian_create(SDC_RNG_TYPE_CPU, 1, 0, NAN, N, &b), SDC_OK);
    cr_expect_neq(sdc_brownian_create(SDC_RNG_TYPE_CPU, 1, 0, 1, 0, &b), SDC_OK);
}
