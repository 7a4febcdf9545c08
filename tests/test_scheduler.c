/* Schedules against golden/scheduler/tables.safetensors: training tables, every diffusers
 * scheduler's timesteps / sigmas / init_noise_sigma for N = 1, 4, 7, 20, 50, and the
 * k-diffusion sigma schedules. Timesteps must match exactly. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/noise_schedule.h"
#include "scheduler/sampler_impl.h"
#include "scheduler/sigma_schedule.h"
#include "tests/golden.h"

#define CASE "scheduler_tables"
#define TABLES "scheduler/tables.safetensors"
#define T 1000

static const int step_counts[] = {1, 4, 7, 20, 50};

static sdc_safetensors *tables;

static void open_tables(void)
{
    tables = golden_open(TABLES);
}

static void close_tables(void)
{
    sdc_safetensors_close(tables);
}

static const sdc_st_entry *entry(const char *fmt, const char *a, int n)
{
    char name[128];
    snprintf(name, sizeof name, fmt, a, n);
    return golden_get(tables, name);
}

/* Compares timesteps exactly (integers or float32 values, stored as F64 or F32). */
static void expect_timesteps(const double *got, int count, const sdc_st_entry *e)
{
    sdc_dtype dt = e->tensor.dtype;
    cr_assert(dt == SDC_DTYPE_F64 || dt == SDC_DTYPE_F32, "%s is not F64 / F32", e->name);
    int want_n = (int)sdc_tensor_numel(&e->tensor);
    cr_expect_eq(count, want_n, "%s: %d timesteps, want %d", e->name, count, want_n);
    for (int i = 0; i < count && i < want_n; i++) {
        double want = dt == SDC_DTYPE_F64 ? ((const double *)e->tensor.data)[i]
                                          : ((const float *)e->tensor.data)[i];
        cr_expect_eq(got[i], want, "%s[%d]: got %.17g want %.17g", e->name, i, got[i], want);
    }
}

static void expect_floats(const float *got, int count, const sdc_st_entry *e)
{
    int want_n = (int)sdc_tensor_numel(&e->tensor);
    cr_assert_eq(count, want_n, "%s: %d values, want %d", e->name, count, want_n);
    expect_close(got, e, golden_tol(CASE, e->name), e->name);
}

/* ---- training tables ---- */

Test(scheduler, betas_and_alphas_cumprod, .init = open_tables, .fini = close_tables)
{
    sdc_noise_schedule sd = sdc_noise_schedule_sd();
    float v[T];
    sdc_betas_diffusers(&sd, v);
    expect_floats(v, T, golden_get(tables, "betas.diffusers"));
    sdc_alphas_cumprod_diffusers(&sd, v);
    expect_floats(v, T, golden_get(tables, "alphas_cumprod.diffusers"));
    sdc_alphas_cumprod_ldm(&sd, v);
    expect_floats(v, T, golden_get(tables, "alphas_cumprod.ldm"));
}

/* ---- diffusers schedulers ---- */

typedef struct table_config {
    const char *name;
    sdc_sampler_kind kind;
    sdc_schedule schedule;
    int karras;
} table_config;

static const table_config configs[] = {
    {"ddpm", SDC_SAMPLER_DDPM, SDC_SCHEDULE_LEADING, 0},
    {"ddim_leading", SDC_SAMPLER_DDIM, SDC_SCHEDULE_LEADING, 0},
    {"ddim_trailing", SDC_SAMPLER_DDIM, SDC_SCHEDULE_TRAILING, 0},
    {"ddim_linspace", SDC_SAMPLER_DDIM, SDC_SCHEDULE_LINSPACE, 0},
    {"euler", SDC_SAMPLER_EULER, SDC_SCHEDULE_LINSPACE, 0},
    {"euler_leading", SDC_SAMPLER_EULER, SDC_SCHEDULE_LEADING, 0},
    {"euler_trailing", SDC_SAMPLER_EULER, SDC_SCHEDULE_TRAILING, 0},
    {"euler_karras", SDC_SAMPLER_EULER, SDC_SCHEDULE_LINSPACE, 1},
    {"euler_a", SDC_SAMPLER_EULER_A, SDC_SCHEDULE_LINSPACE, 0},
    {"dpmpp_2m", SDC_SAMPLER_DPMPP_2M, SDC_SCHEDULE_LINSPACE, 0},
    {"dpmpp_2m_karras", SDC_SAMPLER_DPMPP_2M, SDC_SCHEDULE_LINSPACE, 1},
    {"heun", SDC_SAMPLER_HEUN, SDC_SCHEDULE_LINSPACE, 0},
    {"lcm", SDC_SAMPLER_LCM, SDC_SCHEDULE_LEADING, 0},
};

static sdc_sampler *make(const table_config *c, int steps)
{
    sdc_sampler_params p = sdc_sampler_default_params();
    p.kind = c->kind;
    p.schedule = c->schedule;
    p.karras_sigmas = c->karras;
    p.steps = steps;
    p.latent_size = 16;
    sdc_sampler *s;
    sdc_status st = sdc_sampler_create(&p, &s);
    cr_assert_eq(st, SDC_OK, "%s N=%d: %s", c->name, steps, sdc_last_error());
    cr_assert_eq(sdc_sampler_is_kdiffusion(s), 0, "%s picked the k-diffusion formulation",
                 c->name);
    return s;
}

static void check_config(const table_config *c, int steps)
{
    sdc_sampler *s = make(c, steps);
    int count;
    const double *ts = sdc_sampler_timesteps(s, &count);
    expect_timesteps(ts, count, entry("%s.N%d.timesteps", c->name, steps));
    float init = sdc_sampler_init_noise_sigma(s);
    expect_floats(&init, 1, entry("%s.N%d.init_noise_sigma", c->name, steps));
    const float *sigmas = sdc_sampler_sigmas(s, &count);
    char name[64];
    snprintf(name, sizeof name, "%s.N%d.sigmas", c->name, steps);
    if (sdc_safetensors_find(tables, name))
        expect_floats(sigmas, count, golden_get(tables, name));
    else
        cr_expect_null(sigmas, "%s has sigmas the reference lacks", c->name);
    if (c->kind == SDC_SAMPLER_DDIM) {
        double prev[64];
        sdc_sampler_timesteps(s, &count);
        cr_assert_leq(count, 64);
        for (int i = 0; i < count; i++)
            prev[i] = sdc_ddim_prev_timestep(s, i);
        expect_timesteps(prev, count, entry("%s.N%d.prev_timesteps", c->name, steps));
    }
    sdc_sampler_free(s);
}

Test(scheduler, diffusers_tables, .init = open_tables, .fini = close_tables)
{
    for (size_t i = 0; i < sizeof configs / sizeof *configs; i++)
        for (size_t j = 0; j < sizeof step_counts / sizeof *step_counts; j++)
            check_config(&configs[i], step_counts[j]);
}

/* ---- k-diffusion ---- */

static void model_tables(float *sigmas, float *log_sigmas)
{
    sdc_noise_schedule sd = sdc_noise_schedule_sd();
    float ac[T];
    sdc_alphas_cumprod_ldm(&sd, ac);
    sdc_sigmas_from_alphas_cumprod(ac, T, sigmas);
    sdc_log_sigmas_torch(sigmas, T, log_sigmas);
}

static void check_kdiff_schedule(const char *kind, int n, const float *sigmas,
                                 const float *log_sigmas)
{
    float got[64];
    if (strcmp(kind, "karras") == 0)
        sdc_kdiff_sigmas_karras((size_t)n, sigmas[0], sigmas[T - 1], got);
    else
        sdc_kdiff_sigmas_exponential((size_t)n, sigmas[0], sigmas[T - 1], got);
    expect_floats(got, n + 1, entry("kdiff.%s.N%d", kind, n));
    char name[64];
    snprintf(name, sizeof name, "kdiff.%s.N%d.t_of_sigma", kind, n);
    if (!sdc_safetensors_find(tables, name))
        return;
    float t[64];
    for (int i = 0; i < n; i++)
        t[i] = sdc_kdiff_sigma_to_t(got[i], log_sigmas, T);
    expect_floats(t, n, golden_get(tables, name));
}

Test(scheduler, kdiffusion_tables, .init = open_tables, .fini = close_tables)
{
    static float sigmas[T], log_sigmas[T];
    model_tables(sigmas, log_sigmas);
    expect_floats(sigmas, T, golden_get(tables, "kdiff.sigmas"));
    for (size_t j = 0; j < sizeof step_counts / sizeof *step_counts; j++) {
        check_kdiff_schedule("karras", step_counts[j], sigmas, log_sigmas);
        check_kdiff_schedule("exponential", step_counts[j], sigmas, log_sigmas);
    }
}

/* ---- parameters ---- */

static void expect_refused(sdc_sampler_params p, const char *fragment)
{
    sdc_sampler *s = (sdc_sampler *)1;
    cr_expect_neq(sdc_sampler_create(&p, &s), SDC_OK, "accepted (%s)", fragment);
    cr_expect_null(s);
    cr_expect(strstr(sdc_last_error(), fragment) != NULL, "message '%s' lacks '%s'",
              sdc_last_error(), fragment);
}

Test(scheduler, bad_parameters_are_refused)
{
    sdc_sampler_params p = sdc_sampler_default_params();
    p.latent_size = 16;
    sdc_sampler_params q = p;
    q.steps = 0;
    expect_refused(q, "steps");
    q = p;
    q.steps = 1001;
    expect_refused(q, "steps");
    q = p;
    q.strength = 0.0f;
    expect_refused(q, "strength");
    q = p;
    q.latent_size = 0;
    expect_refused(q, "latent size");
    q = p;
    q.kind = SDC_SAMPLER_DDIM;
    q.schedule = SDC_SCHEDULE_KARRAS;
    expect_refused(q, "karras");
    q = p;
    q.kind = SDC_SAMPLER_LCM;
    q.steps = 51;
    expect_refused(q, "lcm");
    q = p;
    q.train.beta_end = 2.0;
    expect_refused(q, "betas");
    q = p;
    q.kind = SDC_SAMPLER_DDIM;
    q.steps = 5;
    q.strength = 0.1f; /* int(5 * 0.1) = 0 steps left */
    expect_refused(q, "strength");
    q = p;
    q.kind = SDC_SAMPLER_DDIM;
    q.schedule = SDC_SCHEDULE_TRAILING;
    q.steps = 61; /* arange(1000, 0, -1000 / 61) has 62 values, the last rounds to 0: -1 */
    expect_refused(q, "timestep");
}

Test(scheduler, names_round_trip)
{
    for (int k = 0; k < SDC_SAMPLER_KIND_COUNT; k++)
        cr_expect_eq(sdc_sampler_from_name(sdc_sampler_name(k)), k);
    for (int k = 0; k < SDC_SCHEDULE_COUNT; k++)
        cr_expect_eq(sdc_scheduler_from_name(sdc_scheduler_name(k)), k);
    cr_expect_eq(sdc_sampler_from_name("dpmpp_2m"), SDC_SAMPLER_DPMPP_2M);
    cr_expect_eq(sdc_sampler_from_name("plms"), -1);
    cr_expect_eq(sdc_scheduler_from_name(NULL), -1);
}

/* The public tables (include/sdc.h) cover every enum value, and nothing past it. */
Test(scheduler, public_name_tables)
{
    cr_expect_eq(sdc_sampler_count(), SDC_SAMPLER_KIND_COUNT);
    cr_expect_eq(sdc_scheduler_count(), SDC_SCHEDULE_COUNT);
    cr_expect_null(sdc_sampler_name(SDC_SAMPLER_KIND_COUNT));
    cr_expect_null(sdc_scheduler_name(-1));
    cr_expect_str_eq(sdc_sampler_display_name(SDC_SAMPLER_EULER_A), "Euler a");
    cr_expect_str_eq(sdc_sampler_display_name(sdc_sampler_from_name("dpmpp_2m")), "DPM++ 2M");
    cr_expect_str_eq(sdc_scheduler_display_name(SDC_SCHEDULE_KARRAS), "Karras");
    cr_expect_null(sdc_scheduler_display_name(SDC_SCHEDULE_LINSPACE));
    for (int i = 0; i < sdc_sampler_count(); i++)
        cr_expect_not_null(sdc_sampler_description(i));
    cr_expect_str_eq(sdc_rng_display_name(SDC_RNG_TYPE_CPU), "CPU");
    cr_expect_eq(sdc_prediction_from_name("v_prediction"), SDC_PREDICTION_V);
    cr_expect_eq(sdc_family_count(), 5);
    cr_expect_str_eq(sdc_family_name(sdc_family_from_name("sd2")), "sd2");
    char list[64];
    sdc_names_join(sdc_rng_name, list, sizeof list);
    cr_expect_str_eq(list, "cpu, cuda");
    sdc_names_join(sdc_sampler_name, list, 12);
    cr_expect_str_eq(list, "euler_a, eu");
}
