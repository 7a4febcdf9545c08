/* Live previews: the latent-to-RGB projection's maths, the sampler's denoised prediction
 * (x0) for every formulation, and the pipeline's calls of the preview callback (which steps,
 * what size, what picture) on the built-in demo model. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sampler_impl.h"
#include "tests/golden.h"
#include "vae/latent_rgb.h"

/* ---- proj: the fitted map ------------------------------------------------------------ */

/* (v + 1) * 127.5 rounded and clamped, as the decoder's pixels are. */
static int expect_u8(double v)
{
    double x = (v + 1.0) * 127.5;
    return x <= 0 ? 0 : x >= 255 ? 255 : (int)lround(x);
}

Test(preview, proj_is_the_linear_map_per_cell_in_latent_layout)
{
    sdc_latent_rgb sd;
    cr_assert_eq(sdc_latent_rgb_for_family(SDC_FAMILY_SD1, &sd), SDC_OK);
    /* a 1 x 2 latent [4, 1, 2]: cell 0 = channel 0 at 1, cell 1 = channel 3 at -1 */
    float latent[8] = {1, 0, 0, 0, 0, 0, 0, -1};
    uint8_t rgb[6];
    sdc_latent_rgb_project(&sd, latent, 1, 2, rgb);
    for (int c = 0; c < 3; c++) {
        cr_expect_eq(rgb[c], expect_u8(sd.weight[0][c]), "cell 0 channel %d", c);
        cr_expect_eq(rgb[3 + c], expect_u8(-sd.weight[3][c]), "cell 1 channel %d", c);
    }
    /* hand-computed: 0.3512 -> 172, 0.2297 -> 157, 0.3227 -> 169 */
    cr_expect(rgb[0] == 172 && rgb[1] == 157 && rgb[2] == 169, "got %d %d %d", rgb[0], rgb[1],
              rgb[2]);
}

Test(preview, proj_adds_the_sdxl_bias_and_clamps)
{
    sdc_latent_rgb xl, sd1, sd2;
    cr_assert_eq(sdc_latent_rgb_for_family(SDC_FAMILY_SDXL, &xl), SDC_OK);
    cr_assert_eq(sdc_latent_rgb_for_family(SDC_FAMILY_SD1, &sd1), SDC_OK);
    cr_assert_eq(sdc_latent_rgb_for_family(SDC_FAMILY_SD2, &sd2), SDC_OK);
    cr_expect(memcmp(&sd1, &sd2, sizeof sd1) == 0, "SD 2 shares SD 1's VAE latent space");
    cr_expect(memcmp(&sd1, &xl, sizeof sd1) != 0, "SDXL has its own map");
    float zero[4] = {0, 0, 0, 0}, big[4] = {10, 0, 0, 0}, nan[4] = {NAN, 0, 0, 0};
    uint8_t rgb[3];
    sdc_latent_rgb_project(&xl, zero, 1, 1, rgb);
    for (int c = 0; c < 3; c++)
        cr_expect_eq(rgb[c], expect_u8(xl.bias[c]), "bias of channel %d", c);
    sdc_latent_rgb_project(&sd1, big, 1, 1, rgb);
    cr_expect(rgb[0] == 255 && rgb[1] == 255 && rgb[2] == 255, "clamped to white");
    sdc_latent_rgb_project(&sd1, nan, 1, 1, rgb);
    cr_expect(rgb[0] == 0, "a NaN gives black, not garbage");
    cr_expect_eq(sdc_latent_rgb_for_family(SDC_FAMILY_SD2_X4, &xl), SDC_ERR_UNSUPPORTED);
}

/* ---- the denoised prediction of each formulation ----------------------------------- */

enum { N = 48 };

static sdc_sampler *make(sdc_sampler_kind kind, sdc_schedule schedule, sdc_prediction pred,
                         int steps)
{
    sdc_sampler_params p = sdc_sampler_default_params();
    p.kind = kind;
    p.schedule = schedule;
    p.prediction = pred;
    p.steps = steps;
    p.latent_size = N;
    sdc_sampler *s;
    cr_assert_eq(sdc_sampler_create(&p, &s), SDC_OK, "%s", sdc_last_error());
    return s;
}

static void fill(float *x, float scale, int salt)
{
    for (int i = 0; i < N; i++)
        x[i] = scale * sinf(0.7f * (float)i + (float)salt);
}

static void expect_x0(const float *got, const float *x0, const char *what,
                         sdc_sampler_kind kind, sdc_schedule schedule, sdc_prediction pred)
{
    for (int i = 0; i < N; i++)
        cr_expect(fabsf(got[i] - x0[i]) <= 1e-4f * (1.0f + fabsf(x0[i])),
                  "%s/%s/%s: %s %g, x0 %g at %d", sdc_sampler_name(kind),
                  sdc_scheduler_name(schedule), sdc_prediction_name(pred), what, got[i], x0[i],
                  i);
}

/* Steps through every call with made-up model outputs. Samplers that end at sigma 0 land
 * on the last call's denoised prediction; diffusers' DPM++ 2M and UniPC (which end at the
 * sigma of timestep 0) keep every step's x0 prediction for their multistep update. */
static void last_step_lands_on_x0(sdc_sampler_kind kind, sdc_schedule schedule,
                                  sdc_prediction pred)
{
    sdc_sampler *s = make(kind, schedule, pred, 4);
    float latent[N], out[N], x0[N];
    sdc_rng rng;
    sdc_rng_init(&rng, SDC_RNG_TYPE_CPU, 1);
    fill(latent, sdc_sampler_init_noise_sigma(s), 0);
    int calls = sdc_sampler_num_calls(s);
    for (int c = 0; c < calls; c++) {
        fill(out, 0.5f, c + 1);
        float scaled[N], guided[N];
        sdc_sampler_model_input(s, latent, scaled);
        sdc_sampler_guide(s, latent, NULL, out, 1.0f, guided);
        sdc_sampler_denoised(s, latent, guided, x0);
        cr_assert_eq(sdc_sampler_step(s, guided, latent, &rng), SDC_OK);
        if (s->algo == SDC_ALGO_DPMPP_2M || s->algo == SDC_ALGO_UNIPC)
            expect_x0(s->saved_d, x0, "its x0 prediction", kind, schedule, pred);
    }
    if (s->algo != SDC_ALGO_DPMPP_2M && s->algo != SDC_ALGO_UNIPC)
        expect_x0(latent, x0, "final latent", kind, schedule, pred);
    sdc_sampler_free(s);
}

Test(preview, denoised_is_what_the_last_step_returns)
{
    const sdc_prediction preds[] = {SDC_PREDICTION_EPS, SDC_PREDICTION_V};
    for (int p = 0; p < 2; p++) {
        last_step_lands_on_x0(SDC_SAMPLER_EULER, SDC_SCHEDULE_DISCRETE, preds[p]);
        last_step_lands_on_x0(SDC_SAMPLER_EULER, SDC_SCHEDULE_LINSPACE, preds[p]);
        last_step_lands_on_x0(SDC_SAMPLER_EULER_A, SDC_SCHEDULE_LINSPACE, preds[p]);
        last_step_lands_on_x0(SDC_SAMPLER_HEUN, SDC_SCHEDULE_DISCRETE, preds[p]);
        last_step_lands_on_x0(SDC_SAMPLER_HEUN, SDC_SCHEDULE_LINSPACE, preds[p]);
        last_step_lands_on_x0(SDC_SAMPLER_DPMPP_2M, SDC_SCHEDULE_LINSPACE, preds[p]);
        last_step_lands_on_x0(SDC_SAMPLER_DPMPP_2M, SDC_SCHEDULE_KARRAS, preds[p]);
        last_step_lands_on_x0(SDC_SAMPLER_UNIPC, SDC_SCHEDULE_LINSPACE, preds[p]);
    }
}

/* DDIM (eta 0) steps to sqrt(a_prev) x0 + sqrt(1 - a_prev) eps: the x0 it used is ours. */
Test(preview, denoised_of_ddim_is_its_x0_prediction)
{
    const sdc_prediction preds[] = {SDC_PREDICTION_EPS, SDC_PREDICTION_V};
    for (int p = 0; p < 2; p++) {
        sdc_sampler *s = make(SDC_SAMPLER_DDIM, SDC_SCHEDULE_LEADING, preds[p], 5);
        float latent[N], out[N], x0[N];
        fill(latent, 1.0f, 3);
        fill(out, 0.5f, 4);
        int t = (int)sdc_sampler_timestep(s);
        double a = s->ac[t], a_prev = s->ac[sdc_ddim_prev_timestep(s, 0)];
        sdc_sampler_denoised(s, latent, out, x0);
        float before[N];
        memcpy(before, latent, sizeof before);
        sdc_rng rng;
        sdc_rng_init(&rng, SDC_RNG_TYPE_CPU, 1);
        cr_assert_eq(sdc_sampler_step(s, out, latent, &rng), SDC_OK);
        for (int i = 0; i < N; i++) {
            double eps = preds[p] == SDC_PREDICTION_V
                             ? sqrt(a) * out[i] + sqrt(1 - a) * before[i] : out[i];
            double want = sqrt(a_prev) * x0[i] + sqrt(1 - a_prev) * eps;
            cr_expect(fabs(latent[i] - want) < 1e-4, "%s: %g vs %g", sdc_prediction_name(preds[p]),
                      latent[i], want);
        }
        sdc_sampler_free(s);
    }
}

/* ---- the pipeline's callback -------------------------------------------------------- */

#define SIDE 64 /* the demo model's size */
#define MAX_SHOTS 64

typedef struct shots {
    int count;
    int step[MAX_SHOTS], steps[MAX_SHOTS], width[MAX_SHOTS], height[MAX_SHOTS];
    uint8_t *last;   /* the last preview's pixels (malloc'd) */
    int stop_after;  /* return non-zero at this preview (0: never) */
} shots;

static int keep_shot(const uint8_t *rgb, int width, int height, int step, int steps, void *ud)
{
    shots *s = ud;
    if (s->count < MAX_SHOTS) {
        s->step[s->count] = step, s->steps[s->count] = steps;
        s->width[s->count] = width, s->height[s->count] = height;
    }
    s->count++;
    free(s->last);
    s->last = malloc((size_t)width * height * 3);
    cr_assert(s->last);
    memcpy(s->last, rgb, (size_t)width * height * 3);
    return s->stop_after && s->count >= s->stop_after;
}

static sdc_model *load_demo(void)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = source_path("models/demo/model.safetensors");
    sdc_model *m = NULL;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "cannot load the demo model: %s",
                 sdc_last_error());
    return m;
}

/* The demo model with the golden tiny TAESD (diffusers file), for tae previews. */
static sdc_model *load_demo_taesd(int preview_only)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = source_path("models/demo/model.safetensors");
    mp.taesd_path = golden_path("taesd/tiny-taesd/diffusion_pytorch_model.safetensors");
    mp.taesd_preview_only = preview_only;
    sdc_model *m = NULL;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    return m;
}

static sdc_generate_params demo_params(shots *s, sdc_preview_mode mode, int interval)
{
    sdc_generate_params g = sdc_generate_default_params();
    g.prompt = "a red circle";
    g.width = g.height = SIDE;
    g.steps = 5;
    g.seed = 3;
    g.sampler = "euler";
    g.preview = mode;
    g.preview_interval = interval;
    g.preview_fn = keep_shot;
    g.user_data = s;
    return g;
}

Test(preview, proj_every_second_step_and_the_last)
{
    sdc_model *m = load_demo();
    shots s = {0};
    sdc_generate_params g = demo_params(&s, SDC_PREVIEW_PROJ, 2);
    uint8_t rgb[SIDE * SIDE * 3];
    cr_assert_eq(sdc_generate(m, &g, rgb), SDC_OK, "%s", sdc_last_error());
    const int want[] = {2, 4, 5};
    cr_assert_eq(s.count, 3, "previews: %d", s.count);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(s.step[i], want[i]);
        cr_expect_eq(s.steps[i], 5);
        cr_expect(s.width[i] == SIDE / 8 && s.height[i] == SIDE / 8, "proj is latent-sized");
    }
    free(s.last);
    sdc_model_free(m);
}

/* Renders g with m and expects the last of `previews` previews (every interval steps) to be
 * the final picture at its size, within 1/255: the last step of k-diffusion Euler lands on
 * the denoised prediction (sigma 0), which the preview decodes as the picture is decoded. */
static void expect_last_preview_is_the_picture(sdc_model *m, sdc_preview_mode mode,
                                               int interval, int previews)
{
    shots s = {0};
    sdc_generate_params g = demo_params(&s, mode, interval);
    uint8_t rgb[SIDE * SIDE * 3];
    cr_assert_eq(sdc_generate(m, &g, rgb), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(s.count, previews);
    cr_assert(s.width[previews - 1] == SIDE && s.height[previews - 1] == SIDE);
    int worst = 0;
    for (int i = 0; i < SIDE * SIDE * 3; i++) {
        int d = abs(rgb[i] - s.last[i]);
        worst = d > worst ? d : worst;
    }
    cr_expect_leq(worst, 1, "last preview differs from the picture by %d/255", worst);
    free(s.last);
}

/* The last vae preview is the final picture. */
Test(preview, last_vae_preview_is_the_picture)
{
    sdc_model *m = load_demo();
    expect_last_preview_is_the_picture(m, SDC_PREVIEW_VAE, 1, 5);
    sdc_model_free(m);
}

/* A second-order sampler shows finished steps only, never the point between two calls. */
Test(preview, heun_previews_whole_steps)
{
    sdc_model *m = load_demo();
    shots s = {0};
    sdc_generate_params g = demo_params(&s, SDC_PREVIEW_PROJ, 1);
    g.sampler = "heun";
    g.steps = 3;
    uint8_t rgb[SIDE * SIDE * 3];
    cr_assert_eq(sdc_generate(m, &g, rgb), SDC_OK, "%s", sdc_last_error());
    /* k-diffusion Heun: two calls per step, one for the last (to sigma 0): 2, 4, 5 */
    cr_assert_eq(s.count, 3, "previews: %d", s.count);
    cr_expect(s.step[0] == 2 && s.step[1] == 4 && s.step[2] == 5, "steps %d %d %d",
              s.step[0], s.step[1], s.step[2]);
    free(s.last);
    sdc_model_free(m);
}

Test(preview, hires_previews_both_passes_at_their_sizes)
{
    sdc_model *m = load_demo();
    shots s = {0};
    sdc_generate_params g = demo_params(&s, SDC_PREVIEW_VAE, 10);
    g.steps = 2;
    g.hires = 1;
    g.hr_upscaler = "lanczos";
    int w, h;
    sdc_generate_output_size(&g, &w, &h);
    uint8_t *rgb = malloc((size_t)w * h * 3);
    cr_assert(rgb);
    cr_assert_eq(sdc_generate(m, &g, rgb), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(s.count, 2, "one (the last step's) per pass: %d", s.count);
    cr_expect(s.width[0] == SIDE && s.width[1] == w && s.height[1] == h, "sizes %d, %dx%d",
              s.width[0], s.width[1], s.height[1]);
    free(rgb);
    free(s.last);
    sdc_model_free(m);
}

Test(preview, callback_can_stop_and_bad_settings_are_refused)
{
    sdc_model *m = load_demo();
    shots s = {0};
    s.stop_after = 2;
    sdc_generate_params g = demo_params(&s, SDC_PREVIEW_PROJ, 1);
    uint8_t rgb[SIDE * SIDE * 3];
    cr_expect_eq(sdc_generate(m, &g, rgb), SDC_ERR_INTERRUPTED);
    cr_expect_eq(s.count, 2);
    g.preview = SDC_PREVIEW_TAE; /* no TAESD loaded */
    cr_expect_eq(sdc_generate(m, &g, rgb), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "--taesd") != NULL, "%s", sdc_last_error());
    g.preview = SDC_PREVIEW_PROJ;
    g.preview_interval = 0;
    cr_expect_eq(sdc_generate(m, &g, rgb), SDC_ERR_ARG);
    g.preview_interval = 1;
    g.preview = (sdc_preview_mode)7;
    cr_expect_eq(sdc_generate(m, &g, rgb), SDC_ERR_ARG);
    free(s.last);
    sdc_model_free(m);
}

/* tae: the TAESD decodes each preview at the output size, and the final picture too. */
Test(preview, last_tae_preview_is_the_taesd_picture)
{
    sdc_model *m = load_demo_taesd(0);
    expect_last_preview_is_the_picture(m, SDC_PREVIEW_TAE, 2, 3);
    sdc_model_free(m);
}

/* taesd_preview_only: the TAESD shows the previews, the VAE still makes the picture: the
 * same bytes as without a TAESD, and previews that differ from the VAE's. */
Test(preview, taesd_preview_only_keeps_the_vae_picture)
{
    sdc_model *plain = load_demo(), *m = load_demo_taesd(1);
    shots vae = {0}, tae = {0};
    sdc_generate_params g = demo_params(&vae, SDC_PREVIEW_VAE, 5);
    uint8_t want[SIDE * SIDE * 3], got[SIDE * SIDE * 3];
    cr_assert_eq(sdc_generate(plain, &g, want), SDC_OK, "%s", sdc_last_error());
    g = demo_params(&tae, SDC_PREVIEW_TAE, 5);
    cr_assert_eq(sdc_generate(m, &g, got), SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(memcmp(want, got, sizeof want), 0, "the picture is not the VAE's");
    cr_assert(tae.count == 1 && tae.width[0] == SIDE && tae.height[0] == SIDE);
    cr_expect_neq(memcmp(vae.last, tae.last, sizeof want), 0, "the preview is not the TAESD's");
    free(vae.last);
    free(tae.last);
    sdc_model_free(m);
    sdc_model_free(plain);
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = source_path("models/demo/model.safetensors");
    mp.taesd_preview_only = 1;
    cr_expect_eq(sdc_model_load(&mp, &plain), SDC_ERR_ARG, "preview-only without a TAESD");
}
