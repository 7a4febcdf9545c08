/* The sampler interface: parameters, names, creation and destruction, the allocations the
 * per-family setups share, and the inspection accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "ops/names.h"
#include "scheduler/brownian.h"
#include "scheduler/sampler_impl.h"
#include "scheduler/sigma_schedule.h"

/* Far above any useful step count; keeps every per-call table small. */
#define MAX_STEPS 10000

/* One row per sampler: the single source of its names (command line, job files, reports,
 * PNG metadata, --help), of the update rule each formulation runs, and of how
 * AUTOMATIC1111 calls it. Adding a sampler is one file with its step plus one row here. */
typedef struct sampler_row {
    sdc_name_row n;
    sdc_sampler_algo diffusers; /* the rule with diffusers' timestep spacings; SDC_ALGO_NONE:
                                   a k-diffusion sampler only */
    sdc_sampler_algo kdiff;     /* the rule with k-diffusion sigmas; SDC_ALGO_NONE: an
                                   alpha-based sampler that only diffusers defines */
    int karras_sigmas;          /* diffusers' use_karras_sigmas applies to it */
    int calls_per_step;         /* model calls per step as AUTOMATIC1111 counts them: 2 for
                                   its second-order samplers (it doubles their steps in
                                   prompt schedules) */
    sdc_schedule schedule;      /* its schedule when none is given (AUTOMATIC1111's for the
                                   k-diffusion samplers) */
    int discard_penultimate;    /* schedule of steps + 1, next-to-last sigma dropped */
    int brownian;               /* noise from a Brownian tree of the image seed */
} sampler_row;

#define K_ONLY SDC_ALGO_NONE
#define DISCRETE SDC_SCHEDULE_DISCRETE
#define LEADING SDC_SCHEDULE_LEADING
#define KARRAS SDC_SCHEDULE_KARRAS
#define EXPONENTIAL SDC_SCHEDULE_EXPONENTIAL

static const sampler_row sampler_rows[SDC_SAMPLER_KIND_COUNT] = {
    [SDC_SAMPLER_EULER_A] = {{"euler_a", NULL, "Euler a", "Euler ancestral: new noise each step"},
                             SDC_ALGO_EULER_A, SDC_ALGO_K_EULER_A, 0, 1, DISCRETE, 0, 0},
    [SDC_SAMPLER_EULER] = {{"euler", NULL, "Euler", "Euler"}, SDC_ALGO_EULER, SDC_ALGO_K_EULER,
                           1, 1, DISCRETE, 0, 0},
    [SDC_SAMPLER_HEUN] = {{"heun", NULL, "Heun", "Heun: two model calls per step"},
                          SDC_ALGO_HEUN, SDC_ALGO_K_HEUN, 1, 2, DISCRETE, 0, 0},
    [SDC_SAMPLER_DPMPP_2M] = {{"dpm++2m", "dpmpp_2m", "DPM++ 2M", "DPM++ 2M (also dpmpp_2m)"},
                              SDC_ALGO_DPMPP_2M, SDC_ALGO_K_DPMPP_2M, 1, 1, DISCRETE, 0, 0},
    [SDC_SAMPLER_DDIM] = {{"ddim", NULL, "DDIM", "DDIM; --eta adds noise"},
                          SDC_ALGO_DDIM, SDC_ALGO_NONE, 0, 1, LEADING, 0, 0},
    [SDC_SAMPLER_DDPM] = {{"ddpm", NULL, "DDPM", "DDPM: new noise each step"},
                          SDC_ALGO_DDPM, SDC_ALGO_NONE, 0, 1, LEADING, 0, 0},
    [SDC_SAMPLER_LCM] = {{"lcm", NULL, "LCM", "latent consistency models"},
                         SDC_ALGO_LCM, SDC_ALGO_NONE, 0, 1, LEADING, 0, 0},
    [SDC_SAMPLER_LMS] = {{"lms", NULL, "LMS", "linear multistep, order 4"},
                         K_ONLY, SDC_ALGO_K_LMS, 0, 1, DISCRETE, 0, 0},
    [SDC_SAMPLER_DPM2] = {{"dpm2", "dpm_2", "DPM2", "DPM2: two model calls per step; karras"},
                          K_ONLY, SDC_ALGO_K_DPM2, 0, 2, KARRAS, 1, 0},
    [SDC_SAMPLER_DPM2_A] = {{"dpm2_a", "dpm_2_ancestral", "DPM2 a",
                             "DPM2 ancestral: two calls per step, new noise; karras"},
                            K_ONLY, SDC_ALGO_K_DPM2_A, 0, 2, KARRAS, 1, 0},
    [SDC_SAMPLER_DPMPP_2S_A] = {{"dpm++2s_a", "dpmpp_2s_ancestral", "DPM++ 2S a",
                                 "DPM++ 2S ancestral: two calls per step; karras"},
                                K_ONLY, SDC_ALGO_K_DPMPP_2S_A, 0, 2, KARRAS, 0, 0},
    [SDC_SAMPLER_DPMPP_SDE] = {{"dpm++sde", "dpmpp_sde", "DPM++ SDE",
                                "DPM++ SDE: two calls per step, Brownian noise; karras"},
                               K_ONLY, SDC_ALGO_K_DPMPP_SDE, 0, 2, KARRAS, 0, 1},
    [SDC_SAMPLER_DPMPP_2M_SDE] = {{"dpm++2m_sde", "dpmpp_2m_sde", "DPM++ 2M SDE",
                                   "DPM++ 2M SDE: Brownian noise; exponential"},
                                  K_ONLY, SDC_ALGO_K_DPMPP_2M_SDE, 0, 1, EXPONENTIAL, 0, 1},
    [SDC_SAMPLER_DPMPP_2M_SDE_HEUN] = {{"dpm++2m_sde_heun", "dpmpp_2m_sde_heun",
                                        "DPM++ 2M SDE Heun",
                                        "DPM++ 2M SDE, Heun's correction; exponential"},
                                       K_ONLY, SDC_ALGO_K_DPMPP_2M_SDE_HEUN, 0, 1, EXPONENTIAL,
                                       0, 1},
    [SDC_SAMPLER_DPMPP_3M_SDE] = {{"dpm++3m_sde", "dpmpp_3m_sde", "DPM++ 3M SDE",
                                   "DPM++ 3M SDE: Brownian noise; exponential"},
                                  K_ONLY, SDC_ALGO_K_DPMPP_3M_SDE, 0, 1, EXPONENTIAL, 1, 1},
    [SDC_SAMPLER_UNIPC] = {{"unipc", NULL, "UniPC", "UniPC (diffusers' bh2, order 2); linspace"},
                           SDC_ALGO_UNIPC, SDC_ALGO_NONE, 1, 1, SDC_SCHEDULE_LINSPACE, 0, 0},
};

/* AUTOMATIC1111 names only the k-diffusion sigma schedules ("Schedule type"); the others
 * are recorded under sdc's own name. */
static const sdc_name_row schedule_rows[SDC_SCHEDULE_COUNT] = {
    [SDC_SCHEDULE_DEFAULT] = {"default", "Automatic", NULL,
                              "the sampler's own: as its line says, else discrete; "
                              "leading for ddim, ddpm, lcm"},
    [SDC_SCHEDULE_DISCRETE] = {"discrete", NULL, NULL, "k-diffusion sigmas"},
    [SDC_SCHEDULE_KARRAS] = {"karras", NULL, "Karras", "k-diffusion Karras sigmas"},
    [SDC_SCHEDULE_EXPONENTIAL] = {"exponential", NULL, "Exponential",
                                  "k-diffusion exponential sigmas"},
    [SDC_SCHEDULE_LINSPACE] = {"linspace", NULL, NULL, "diffusers timestep spacing"},
    [SDC_SCHEDULE_LEADING] = {"leading", NULL, NULL, "diffusers timestep spacing"},
    [SDC_SCHEDULE_TRAILING] = {"trailing", NULL, NULL, "diffusers timestep spacing"},
};

/* sdc_sampler_count, _name, _display_name, _description, _from_name (include/sdc.h) */
SDC_NAME_TABLE_API(sdc_sampler, sampler_rows)
SDC_NAME_TABLE_API(sdc_scheduler, schedule_rows)

int sdc_sampler_model_calls_per_step(int i)
{
    return i >= 0 && i < SDC_SAMPLER_KIND_COUNT ? sampler_rows[i].calls_per_step : 0;
}

int sdc_sampler_default_scheduler(int i)
{
    return i >= 0 && i < SDC_SAMPLER_KIND_COUNT ? (int)sampler_rows[i].schedule : -1;
}

int sdc_sampler_discards_penultimate(sdc_sampler_kind kind)
{
    return sampler_rows[kind].discard_penultimate;
}

int sdc_sampler_brownian(const sdc_sampler *s)
{
    return sampler_rows[s->p.kind].brownian;
}

sdc_sampler_params sdc_sampler_default_params(void)
{
    return (sdc_sampler_params){
        .kind = SDC_SAMPLER_EULER_A,
        .schedule = SDC_SCHEDULE_DEFAULT,
        .prediction = SDC_PREDICTION_EPS,
        .steps = 20,
        .strength = 1.0f,
        .eta = 0.0f,
        .train = sdc_noise_schedule_sd(),
        .lcm_original_steps = 50,
        .lcm_timestep_scaling = 10.0f,
    };
}

int sdc_sampler_schedule_steps(sdc_sampler_kind kind, int steps)
{
    /* AUTOMATIC1111 doubles the steps of its second-order samplers in prompt schedules */
    int calls = kind >= 0 && kind < SDC_SAMPLER_KIND_COUNT ? sampler_rows[kind].calls_per_step : 1;
    return calls * steps;
}

static int is_kdiff_schedule(sdc_schedule s)
{
    return s == SDC_SCHEDULE_DEFAULT || s == SDC_SCHEDULE_DISCRETE || s == SDC_SCHEDULE_KARRAS ||
           s == SDC_SCHEDULE_EXPONENTIAL;
}

/* Picks the update rule; the k-diffusion schedules select the k-diffusion formulation. */
static sdc_status choose_algo(const sdc_sampler_params *p, sdc_sampler_algo *algo)
{
    const sampler_row *row = &sampler_rows[p->kind];
    const char *sampler = row->n.name, *schedule = schedule_rows[p->schedule].name;
    if (row->kdiff == SDC_ALGO_NONE) {
        if (p->schedule != SDC_SCHEDULE_DEFAULT && is_kdiff_schedule(p->schedule))
            return sdc_fail(SDC_ERR_ARG, "scheduler '%s' does not apply to sampler '%s' (use "
                            "linspace, leading or trailing)", schedule, sampler);
        if (p->karras_sigmas)
            return sdc_fail(SDC_ERR_ARG, "sampler '%s' has no karras sigmas", sampler);
        *algo = row->diffusers;
        return SDC_OK;
    }
    if (row->diffusers == SDC_ALGO_NONE && !is_kdiff_schedule(p->schedule))
        return sdc_fail(SDC_ERR_ARG, "scheduler '%s' does not apply to sampler '%s' (use "
                        "discrete, karras or exponential)", schedule, sampler);
    if (is_kdiff_schedule(p->schedule)) {
        if (p->karras_sigmas)
            return sdc_fail(SDC_ERR_ARG, "karras sigmas go with the diffusers schedulers "
                            "(linspace, leading, trailing); for k-diffusion use scheduler "
                            "'karras'");
        *algo = row->kdiff;
        return SDC_OK;
    }
    if (p->karras_sigmas && !row->karras_sigmas)
        return sdc_fail(SDC_ERR_ARG, "sampler '%s' with scheduler '%s' has no karras "
                        "sigmas", sampler, schedule);
    *algo = row->diffusers;
    return SDC_OK;
}

static sdc_status check_params(const sdc_sampler_params *p)
{
    if ((unsigned)p->kind >= SDC_SAMPLER_KIND_COUNT)
        return sdc_fail(SDC_ERR_ARG, "sampler: unknown kind %d", (int)p->kind);
    if ((unsigned)p->schedule >= SDC_SCHEDULE_COUNT)
        return sdc_fail(SDC_ERR_ARG, "scheduler: unknown schedule %d", (int)p->schedule);
    if (p->prediction != SDC_PREDICTION_EPS && p->prediction != SDC_PREDICTION_V)
        return sdc_fail(SDC_ERR_ARG, "sampler: unknown prediction type %d", (int)p->prediction);
    if (p->steps < 1 || p->steps > MAX_STEPS)
        return sdc_fail(SDC_ERR_ARG, "steps: %d is outside [1, %d]", p->steps, MAX_STEPS);
    if (p->steps > p->train.num_train_timesteps)
        return sdc_fail(SDC_ERR_ARG, "steps: %d exceeds the model's %d training timesteps",
                        p->steps, p->train.num_train_timesteps);
    if (!(p->strength > 0.0f && p->strength <= 1.0f))
        return sdc_fail(SDC_ERR_ARG, "strength: %g is outside (0, 1]", (double)p->strength);
    if (!(p->eta >= 0.0f && p->eta <= 1.0f))
        return sdc_fail(SDC_ERR_ARG, "eta: %g is outside [0, 1]", (double)p->eta);
    if (p->latent_size == 0 || p->latent_size > ((size_t)1 << 34))
        return sdc_fail(SDC_ERR_ARG, "sampler: latent size %zu is out of range", p->latent_size);
    return sdc_noise_schedule_check(&p->train, "sampler");
}

static sdc_status setup(sdc_sampler *s)
{
    switch (s->algo) {
    case SDC_ALGO_DDIM:
    case SDC_ALGO_DDPM:
    case SDC_ALGO_LCM:
        return sdc_sampler_setup_alpha(s);
    case SDC_ALGO_EULER:
    case SDC_ALGO_EULER_A:
    case SDC_ALGO_HEUN:
        return sdc_sampler_setup_sigma(s);
    case SDC_ALGO_DPMPP_2M:
        return sdc_sampler_setup_dpm(s);
    case SDC_ALGO_UNIPC: {
        sdc_status st = sdc_sampler_setup_dpm(s);
        return st == SDC_OK ? sdc_sampler_alloc_hist(s) : st;
    }
    default:
        return sdc_sampler_setup_kdiff(s);
    }
}

sdc_status sdc_sampler_create(const sdc_sampler_params *params, sdc_sampler **out)
{
    *out = NULL;
    sdc_status st = check_params(params);
    sdc_sampler_algo algo = SDC_ALGO_DDIM;
    if (st == SDC_OK)
        st = choose_algo(params, &algo);
    if (st != SDC_OK)
        return st;
    sdc_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return sdc_fail(SDC_ERR_NOMEM, "sampler: out of memory");
    s->p = *params;
    if (s->p.schedule == SDC_SCHEDULE_DEFAULT)
        s->p.schedule = sampler_rows[params->kind].schedule;
    s->algo = algo;
    s->kdiff = algo >= SDC_ALGO_K_EULER;
    s->num_train = params->train.num_train_timesteps;
    s->n = params->latent_size;
    s->noise = malloc(s->n * sizeof *s->noise);
    s->saved_x = malloc(s->n * sizeof *s->saved_x);
    s->saved_d = malloc(s->n * sizeof *s->saved_d);
    if (!s->noise || !s->saved_x || !s->saved_d)
        st = sdc_fail(SDC_ERR_NOMEM, "sampler: out of memory for %zu latent floats", s->n);
    if (st == SDC_OK)
        st = setup(s);
    if (st == SDC_OK)
        st = sdc_sampler_check_timesteps(s);
    if (st == SDC_OK && s->start >= s->n_calls)
        st = sdc_fail(SDC_ERR_ARG, "strength: %g leaves no sampling step of %d",
                      (double)params->strength, params->steps);
    if (st != SDC_OK) {
        sdc_sampler_free(s);
        return st;
    }
    s->index = s->start;
    *out = s;
    return SDC_OK;
}

void sdc_sampler_free(sdc_sampler *s)
{
    if (!s)
        return;
    free(s->ac);
    free(s->log_sigmas);
    free(s->t);
    free(s->call_sigma);
    free(s->sigmas);
    free(s->noise);
    free(s->saved_x);
    free(s->saved_d);
    free(s->hist);
    sdc_brownian_free(s->tree);
    free(s);
}

sdc_status sdc_sampler_alloc_calls(sdc_sampler *s, int n_calls, int with_sigma)
{
    s->n_calls = n_calls;
    s->t = calloc((size_t)n_calls, sizeof *s->t);
    if (with_sigma)
        s->call_sigma = calloc((size_t)n_calls, sizeof *s->call_sigma);
    if (!s->t || (with_sigma && !s->call_sigma))
        return sdc_fail(SDC_ERR_NOMEM, "sampler: out of memory for %d calls", n_calls);
    return SDC_OK;
}

sdc_status sdc_sampler_alloc_sigmas(sdc_sampler *s, int n_sigmas)
{
    s->n_sigmas = n_sigmas;
    s->sigmas = calloc((size_t)n_sigmas, sizeof *s->sigmas);
    if (!s->sigmas)
        return sdc_fail(SDC_ERR_NOMEM, "sampler: out of memory for %d sigmas", n_sigmas);
    return SDC_OK;
}

sdc_status sdc_sampler_alloc_hist(sdc_sampler *s)
{
    s->hist = malloc((size_t)SDC_LMS_ORDER * s->n * sizeof *s->hist);
    if (!s->hist)
        return sdc_fail(SDC_ERR_NOMEM, "sampler: out of memory for its history");
    return SDC_OK;
}

sdc_status sdc_sampler_alloc_tables(sdc_sampler *s, int ldm_precision)
{
    size_t count = (size_t)s->num_train;
    s->ac = malloc(count * sizeof *s->ac);
    s->log_sigmas = malloc(count * sizeof *s->log_sigmas);
    if (!s->ac || !s->log_sigmas)
        return sdc_fail(SDC_ERR_NOMEM, "sampler: out of memory for the noise schedule");
    if (ldm_precision)
        sdc_alphas_cumprod_ldm(&s->p.train, s->ac);
    else
        sdc_alphas_cumprod_diffusers(&s->p.train, s->ac);
    /* k-diffusion takes torch's log of the model sigmas, diffusers numpy's */
    sdc_sigmas_from_alphas_cumprod(s->ac, s->num_train, s->log_sigmas);
    if (ldm_precision)
        sdc_log_sigmas_torch(s->log_sigmas, s->num_train, s->log_sigmas);
    else
        sdc_log_sigmas_numpy(s->log_sigmas, s->num_train, s->log_sigmas);
    return SDC_OK;
}

sdc_status sdc_sampler_check_timesteps(const sdc_sampler *s)
{
    for (int i = 0; i < s->n_calls; i++)
        if (!(s->t[i] >= 0 && s->t[i] <= s->num_train - 1))
            return sdc_fail(SDC_ERR_ARG, "steps: %d %s steps give timestep %g, outside [0, %d]",
                            s->p.steps, schedule_rows[s->p.schedule].name, s->t[i],
                            s->num_train - 1);
    return SDC_OK;
}

/* Shortest decimal that reads back as f: int(N * strength) must truncate as in Python. */
double sdc_decimal_of(float f)
{
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        if ((float)strtod(buf, NULL) == f)
            break;
    }
    return strtod(buf, NULL);
}

void sdc_sampler_diffusers_start(sdc_sampler *s, int order)
{
    int steps = s->p.steps;
    int init_timestep = s->p.img2img_steps > 0 && s->p.strength < 1.0f
                            ? s->p.img2img_steps
                            : (int)(steps * sdc_decimal_of(s->p.strength));
    if (init_timestep > steps)
        init_timestep = steps;
    int start = (steps - init_timestep) * order;
    if (start >= s->n_calls) {
        s->start = s->n_calls;
        return;
    }
    int seen = 0;
    for (int i = 0; i < s->n_calls; i++)
        if (s->t[i] == s->t[start] && ++seen == 2) {
            start = i;
            break;
        }
    s->start = start;
}

int sdc_sampler_is_kdiffusion(const sdc_sampler *s)
{
    return s->kdiff;
}

int sdc_sampler_num_calls(const sdc_sampler *s)
{
    return s->n_calls - s->start;
}

int sdc_sampler_mid_step(const sdc_sampler *s)
{
    return (s->algo == SDC_ALGO_HEUN && s->have_saved) || s->mid_step;
}

int sdc_sampler_call_index(const sdc_sampler *s)
{
    return s->index - s->start;
}

double sdc_sampler_timestep(const sdc_sampler *s)
{
    return s->t[s->index < s->n_calls ? s->index : s->n_calls - 1];
}

float sdc_sampler_init_noise_sigma(const sdc_sampler *s)
{
    return s->init_sigma;
}

const double *sdc_sampler_timesteps(const sdc_sampler *s, int *count)
{
    *count = s->n_calls;
    return s->t;
}

const float *sdc_sampler_sigmas(const sdc_sampler *s, int *count)
{
    *count = s->sigmas ? s->n_sigmas : 0;
    return s->sigmas;
}
