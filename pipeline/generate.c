/* sdc_generate: prompt (and init image / mask) -> one RGB8 picture.
 *
 *   text  -> the prompt plan: AUTOMATIC1111's schedules, alternations and AND sub-prompts,
 *            each distinct text encoded once; every model call takes the rows [sub-prompts,
 *            negative] its counter selects (one row when cfg_scale <= 1 without AND)
 *   rng   -> the draws in diffusers' order (one generator per image, seeded once)
 *   loop  -> model_input -> UNet -> guide -> step, blending the known latent back in after
 *            every step for inpainting with an ordinary (4-channel) UNet
 *   VAE   -> pixels; with a mask, the original pixels are composited back outside it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "image/depth.h"
#include "pipeline/control.h"
#include "pipeline/lora_run.h"
#include "pipeline/pipeline_impl.h"
#include "pipeline/prefetch.h"
#include "pipeline/preview.h"
#include "pipeline/unet_pack.h"
#include "pipeline/unet_tiles.h"

/* Largest output side: 16384 pixels (a 2048 x 2048 latent). */
#define MAX_SIDE 16384
/* UNet input of the SD 2 depth model: the latent and the depth map. */
#define DEPTH_CHANNELS 5
/* UNet input of the x4 upscaler: the latent and the noised low-res picture. */
#define UPSCALER_CHANNELS 7
/* The x4 upscaler's UNet windows when its latent is larger (a 512-pixel output): one window
 * then costs about what a 1024-pixel SD pass does. */
#define UPSCALER_TILE 128

typedef struct run {
    sdc_model *m;
    const sdc_generate_params *p;
    sdc_pipeline_start from;
    sdc_pipeline_inputs in;
    sdc_sampler *sampler;
    sdc_sampler_kind sampler_kind;
    sdc_rng rng;
    int h, w;         /* latent size */
    int rows;         /* UNet batch: the sub-prompts, then the negative when guided */
    int in_ch;        /* UNet input channels: 4, or 9 for inpainting models */
    int tile;         /* UNet windows in latent cells, 0 = one pass */
    size_t n;         /* floats in one latent [4, h, w] */
    sdc_prompt_plan plan; /* the texts of every call, encoded */
    int refined;      /* the refiner has taken over (r->m is the refiner since) */
    float *buf;       /* one allocation for everything below */
    float *latent, *x0, *noise, *scaled, *unet_in, *unet_out, *guided, *known;
    /* inpainting models' extra UNet input per row [rows, 5, h, w]: the latent mask [h, w]
     * then the masked-image latent [4, h, w] */
    float *extra;
    sdc_pipeline_control control; /* the ControlNets, with the base model's UNet */
    sdc_pipeline_preview preview; /* live previews, or mode NONE */
    sdc_prefetch prefetch;        /* the UNet's weights, mapped while the text is encoded */
    sdc_unet_pack pack;           /* the UNet's packed bf16 weights during sampling */
} run;

static void run_free(run *r)
{
    sdc_prefetch_join(&r->prefetch);
    sdc_sampler_free(r->sampler);
    sdc_pipeline_inputs_free(&r->in);
    sdc_pipeline_control_free(&r->control);
    sdc_prompt_plan_free(&r->plan);
    sdc_pipeline_preview_free(&r->preview);
    free(r->buf);
}

static sdc_status check_params(const sdc_generate_params *p)
{
    if (p->width <= 0 || p->height <= 0 || p->width % 8 || p->height % 8)
        return sdc_fail(SDC_ERR_ARG, "width and height must be positive multiples of 8 "
                        "(got %dx%d)", p->width, p->height);
    if (p->width > MAX_SIDE || p->height > MAX_SIDE)
        return sdc_fail(SDC_ERR_ARG, "%dx%d is larger than the %d-pixel limit", p->width,
                        p->height, MAX_SIDE);
    if (p->steps < 1 || p->steps > 1000)
        return sdc_fail(SDC_ERR_ARG, "steps must be between 1 and 1000 (got %d)", p->steps);
    if (!isfinite(p->cfg_scale))
        return sdc_fail(SDC_ERR_ARG, "cfg scale must be a finite number");
    if (p->refiner && !(p->refiner_switch >= 0.0f && p->refiner_switch <= 1.0f))
        return sdc_fail(SDC_ERR_ARG, "the refiner switch must be 0..1 (got %g)",
                        p->refiner_switch);
    return SDC_OK;
}

/* The depth model takes a depth map and only it does. */
static sdc_status check_depth(const sdc_model *m, const sdc_generate_params *p)
{
    int depth_model = sdc_unet_in_channels(m->unet) == DEPTH_CHANNELS;
    if (depth_model && !p->depth_map)
        return sdc_fail(SDC_ERR_ARG, "%s is a depth model: give it a depth map (--depth-map "
                        "FILE: a gray picture, nearer = brighter, as MiDaS or Depth Anything "
                        "write it; sdc bundles no depth estimator)", m->path);
    if (!depth_model && p->depth_map)
        return sdc_fail(SDC_ERR_ARG, "a depth map applies to depth models (5 UNet input "
                        "channels); %s has %d", m->path, sdc_unet_in_channels(m->unet));
    if (p->depth_map && (p->depth_width < 1 || p->depth_height < 1 ||
                         p->depth_width > MAX_SIDE || p->depth_height > MAX_SIDE))
        return sdc_fail(SDC_ERR_ARG, "depth map of %dx%d pixels", p->depth_width,
                        p->depth_height);
    return SDC_OK;
}

/* A refiner continues the base's latent with the base's schedule: it must share the latent
 * space, the prediction type and the UNet input. */
static sdc_status check_refiner(const sdc_model *base, const sdc_model *refiner)
{
    if (sdc_vae_scaling_factor(base->vae) != sdc_vae_scaling_factor(refiner->vae) ||
        sdc_unet_in_channels(base->unet) != sdc_unet_in_channels(refiner->unet))
        return sdc_fail(SDC_ERR_ARG, "the refiner %s does not share the model's latent space "
                        "(VAE scale %g vs %g, UNet input %d vs %d channels)", refiner->path,
                        sdc_vae_scaling_factor(refiner->vae), sdc_vae_scaling_factor(base->vae),
                        sdc_unet_in_channels(refiner->unet), sdc_unet_in_channels(base->unet));
    if (sdc_checkpoint_prediction(base->ck) != sdc_checkpoint_prediction(refiner->ck))
        return sdc_fail(SDC_ERR_ARG, "the refiner %s predicts %s, the model %s", refiner->path,
                        sdc_prediction_name(sdc_checkpoint_prediction(refiner->ck)),
                        sdc_prediction_name(sdc_checkpoint_prediction(base->ck)));
    return SDC_OK;
}

static int report(const run *r, const char *stage, int step, int steps)
{
    if (r->p->progress && r->p->progress(stage, step, steps, r->p->user_data))
        return 1;
    return 0;
}

static sdc_status interrupted(void)
{
    return sdc_fail(SDC_ERR_INTERRUPTED, "interrupted");
}

/* "unknown sampling method "x"; choose one of euler_a, euler, ..." from the name table. */
static sdc_status unknown_name(const char *what, const char *name, const char *(*names)(int))
{
    char choices[256];
    sdc_names_join(names, choices, sizeof choices);
    return sdc_fail(SDC_ERR_ARG, "unknown %s \"%s\"; choose one of %s", what, name, choices);
}

static sdc_status make_sampler(run *r)
{
    const sdc_generate_params *p = r->p;
    sdc_sampler_params sp = sdc_sampler_default_params();
    const char *name = p->sampler ? p->sampler : "euler_a";
    int kind = sdc_sampler_from_name(name);
    if (kind < 0)
        return unknown_name("sampling method", name, sdc_sampler_name);
    int schedule = SDC_SCHEDULE_DEFAULT;
    if (p->scheduler && (schedule = sdc_scheduler_from_name(p->scheduler)) < 0)
        return unknown_name("scheduler", p->scheduler, sdc_scheduler_name);
    sp.kind = r->sampler_kind = (sdc_sampler_kind)kind;
    sp.schedule = (sdc_schedule)schedule;
    sp.prediction = sdc_checkpoint_prediction(r->m->ck);
    sp.steps = p->steps;
    /* the x4 upscaler's init picture is its condition: it samples from pure noise */
    int init = (r->in.init_rgb && r->in_ch != UPSCALER_CHANNELS) || r->from.latent;
    sp.strength = init ? p->strength : 1.0f;
    sp.img2img_steps = r->from.img2img_steps;
    sp.eta = p->eta;
    sp.karras_sigmas = p->karras_sigmas;
    sp.train = r->m->train;
    sp.latent_size = r->n;
    return sdc_sampler_create(&sp, &r->sampler);
}

static sdc_status allocate(run *r)
{
    size_t n = r->n, hw = (size_t)r->h * r->w;
    size_t unet_in = (size_t)r->rows * n, unet_out = (size_t)r->rows * n;
    size_t extra = (size_t)r->rows * (r->in_ch - 4) * hw;
    size_t total = 6 * n + unet_in + unet_out + extra;
    r->buf = calloc(total, sizeof(float));
    if (!r->buf)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for %dx%d latents", r->w, r->h);
    float *q = r->buf;
    r->latent = q, q += n;
    r->x0 = q, q += n;
    r->noise = q, q += n;
    r->scaled = q, q += n;
    r->guided = q, q += n;
    r->known = q, q += n;
    r->unet_in = q, q += unet_in;
    r->unet_out = q, q += unet_out;
    r->extra = q;
    return SDC_OK;
}

/* latent = the TAESD's encoding of image [3, H, W]: the UNet's latent itself, no posterior
 * and no draw (diffusers' retrieve_latents with an AutoencoderTiny). */
/* Whether the VAE passes of this picture run in tiles: as asked, or (SDC_VAE_TILING_AUTO) when
 * either side exceeds SDC_VAE_TILING_AUTO_PX, where an untiled decode's activations reach
 * gigabytes (docs/PERFORMANCE.md); smaller pictures stay exactly as untiled. */
static int vae_tiled(const sdc_generate_params *p)
{
    if (p->vae_tiling >= 0)
        return p->vae_tiling > 0;
    return p->width > SDC_VAE_TILING_AUTO_PX || p->height > SDC_VAE_TILING_AUTO_PX;
}

static sdc_status encode_taesd(run *r, const float *image, float *latent)
{
    int lh, lw;
    sdc_taesd_latent_size(r->p->height, r->p->width, &lh, &lw);
    if (lh != r->h || lw != r->w)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "the TAESD encodes %dx%d pixels to %dx%d latents, "
                        "not %dx%d", r->p->width, r->p->height, lw, lh, r->w, r->h);
    sdc_status s = sdc_taesd_encode(r->m->taesd, image, 1, r->p->height, r->p->width, latent);
    if (s == SDC_OK)
        s = sdc_pipeline_check_finite(latent, r->n, "the TAESD encoder");
    return s;
}

/* latent = scaling * (mean + std * noise) of image [3, H, W]; draws the noise when `draw`,
 * else takes the posterior mean. With a TAESD encoder: its latent, nothing drawn. */
static sdc_status encode(run *r, const float *image, int draw, float *latent)
{
    if (r->m->taesd && !r->m->taesd_preview_only && sdc_taesd_encoder_path(r->m->taesd))
        return encode_taesd(r, image, latent);
    int lh = 0, lw = 0;
    sdc_status s = sdc_vae_latent_size(r->m->vae, r->p->height, r->p->width, &lh, &lw);
    if (s == SDC_OK && (lh != r->h || lw != r->w))
        s = sdc_fail(SDC_ERR_UNSUPPORTED, "the VAE encodes %dx%d pixels to %dx%d latents, "
                     "not %dx%d", r->p->width, r->p->height, lw, lh, r->w, r->h);
    float *mean = malloc(2 * r->n * sizeof(float));
    if (s == SDC_OK && !mean)
        s = sdc_fail(SDC_ERR_NOMEM, "out of memory encoding the init image");
    if (s == SDC_OK)
        s = sdc_vae_encode(r->m->vae, image, 1, r->p->height, r->p->width, mean, mean + r->n,
                           vae_tiled(r->p));
    if (s == SDC_OK)
        s = sdc_pipeline_check_finite(mean, r->n, "the VAE encoder");
    if (s == SDC_OK) {
        float *noise = r->scaled; /* free until the loop starts */
        if (draw)
            sdc_rng_randn(&r->rng, noise, r->n);
        else
            memset(noise, 0, r->n * sizeof(float));
        sdc_vae_sample(r->m->vae, mean, mean + r->n, noise, r->n, latent);
    }
    free(mean);
    return s;
}

/* x4 upscaler: the low-res condition (its noise drawn first), then the latent noise. */
static sdc_status start_upscale(run *r)
{
    size_t per_row = (size_t)3 * r->h * r->w;
    sdc_status s = sdc_pipeline_upscale_condition(r->p, r->w, r->h, &r->rng, r->extra);
    if (s != SDC_OK)
        return s;
    sdc_rng_randn(&r->rng, r->noise, r->n);
    sdc_sampler_start_txt2img(r->sampler, r->noise, r->latent);
    for (int b = 1; b < r->rows; b++)
        memcpy(r->extra + b * per_row, r->extra, per_row * sizeof(float));
    return SDC_OK;
}

/* The draws and starting latent of each mode, in the order diffusers makes them. */
static sdc_status start(run *r)
{
    const sdc_pipeline_inputs *in = &r->in;
    sdc_status s = SDC_OK;
    if (r->in_ch == UPSCALER_CHANNELS)
        return start_upscale(r);
    if (r->from.latent) { /* the noise is the seed's first draw, as in AUTOMATIC1111 */
        memcpy(r->x0, r->from.latent, r->n * sizeof(float));
        sdc_rng_randn(&r->rng, r->noise, r->n);
        sdc_sampler_start_img2img(r->sampler, r->x0, r->noise, r->latent);
        return SDC_OK;
    }
    int inpainting = in->mask != NULL;
    int full_strength = !in->init_rgb || (inpainting && r->p->strength >= 1.0f);
    if (in->init_rgb && (!inpainting || r->in_ch != 9 || !full_strength))
        s = encode(r, in->init_image, 1, r->x0);
    if (s != SDC_OK)
        return s;
    sdc_rng_randn(&r->rng, r->noise, r->n);
    if (full_strength)
        sdc_sampler_start_txt2img(r->sampler, r->noise, r->latent);
    else
        sdc_sampler_start_img2img(r->sampler, r->x0, r->noise, r->latent);
    size_t hw = (size_t)r->h * r->w;
    float *mask = r->extra, *masked_latent = r->extra + hw;
    float *scratch = r->in_ch == 9 ? masked_latent : r->guided; /* guided: free until the loop */
    if (inpainting) /* drawn for 4-channel UNets too, which do not use it */
        s = encode(r, in->masked_image, 1, scratch);
    if (s == SDC_OK && inpainting && r->in_ch == 9)
        memcpy(mask, in->mask_latent, hw * sizeof(float));
    if (s == SDC_OK && !inpainting && r->in_ch == 9) {
        /* an inpainting model without a mask repaints everything (AUTOMATIC1111): mask 1,
         * masked image 0, encoded without a draw so the seed gives the usual stream */
        float *zero = calloc(3 * (size_t)r->p->width * r->p->height, sizeof(float));
        s = zero ? encode(r, zero, 0, masked_latent)
                 : sdc_fail(SDC_ERR_NOMEM, "out of memory for the inpainting condition");
        free(zero);
        for (size_t i = 0; i < hw; i++)
            mask[i] = 1.0f;
    }
    if (s == SDC_OK && r->in_ch == DEPTH_CHANNELS)
        sdc_depth_to_latent(r->p->depth_map, r->p->depth_width, r->p->depth_height, r->w, r->h,
                            r->extra);
    size_t per_row = (size_t)(r->in_ch - 4) * hw;
    for (int b = 1; b < r->rows && r->in_ch > 4; b++) /* the same condition for every row */
        memcpy(r->extra + b * per_row, r->extra, per_row * sizeof(float));
    return s;
}

/* The UNet batch: one row of the scaled latent per sub-prompt, then the negative's. */
static void unet_input(run *r)
{
    sdc_sampler_model_input(r->sampler, r->latent, r->scaled);
    for (int b = 0; b < r->rows; b++)
        memcpy(r->unet_in + (size_t)b * r->n, r->scaled, r->n * sizeof(float));
}

/* Ordinary UNets inpaint by putting the known region back, noised to the next call's
 * level (clean after the last call). */
static void blend_known(run *r)
{
    int call = sdc_sampler_call_index(r->sampler);
    sdc_sampler_add_noise(r->sampler, call, r->x0, r->noise, r->known);
    size_t hw = (size_t)r->h * r->w;
    for (size_t c = 0; c < 4; c++)
        for (size_t i = 0; i < hw; i++) {
            float m = r->in.mask_latent[i];
            float *x = r->latent + c * hw + i;
            *x = (1.0f - m) * r->known[c * hw + i] + m * *x;
        }
}

/* The call's denoised prediction for the preview; ordinary UNets inpainting show the known
 * region outside the mask, as their final latent has it. */
static void preview_x0(run *r)
{
    float *x0 = r->preview.x0;
    sdc_sampler_denoised(r->sampler, r->latent, r->guided, x0);
    if (!r->in.mask || r->in_ch == 9)
        return;
    size_t hw = (size_t)r->h * r->w;
    for (size_t c = 0; c < 4; c++)
        for (size_t i = 0; i < hw; i++) {
            float m = r->in.mask_latent[i];
            x0[c * hw + i] = (1.0f - m) * r->x0[c * hw + i] + m * x0[c * hw + i];
        }
}

static sdc_status text(run *r);

/* The refiner takes over: the base's UNet pages leave memory, the refiner's text encoders
 * condition (and leave memory in turn), the sampler and latent carry on. */
static sdc_status hand_over(run *r)
{
    sdc_prefetch_join(&r->prefetch);
    sdc_unet_pack_end(&r->pack);
    sdc_checkpoint_release(r->m->ck, SDC_COMPONENT_UNET);
    sdc_unet_free_activations(r->m->unet);
    r->m = r->p->refiner;
    r->refined = 1;
    sdc_status s = text(r);
    sdc_checkpoint_release(r->m->ck, SDC_COMPONENT_TEXT);
    sdc_checkpoint_release(r->m->ck, SDC_COMPONENT_TEXT2);
    sdc_text_encoder_free_activations(r->m->te);
    sdc_text_encoder_free_activations(r->m->te2);
    return s;
}

/* The first call at or after the refiner switch that starts a step, or calls (never). */
static int refiner_call(const run *r, int calls)
{
    if (!r->p->refiner)
        return calls;
    int at = (int)((double)r->p->refiner_switch * calls);
    return at < calls ? at : calls;
}

sdc_status sdc_pipeline_check_finite(const float *x, size_t n, const char *stage)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) /* isfinite holds under -fno-math-errno, not -ffast-math */
        bad |= !isfinite(x[i]);
    if (!bad)
        return SDC_OK;
    return sdc_fail(SDC_ERR_FORMAT, "%s produced NaN or infinite values (broken or "
                    "overflowing weights?)", stage);
}

/* CFG of the call's outputs: plain with one sub-prompt of weight 1, else AUTOMATIC1111's
 * composable form neg + sum_i (d_i - neg) * weight_i * cfg. */
static void guide(run *r, float cfg)
{
    const sdc_prompt_plan *plan = &r->plan;
    const float *neg = plan->guided ? r->unet_out + (size_t)plan->subprompts * r->n : NULL;
    if (plan->single)
        sdc_sampler_guide(r->sampler, r->latent, neg, r->unet_out, cfg, r->guided);
    else
        sdc_sampler_guide_multi(r->sampler, r->latent, neg, r->unet_out, plan->scale,
                                plan->subprompts, r->guided);
}

static sdc_status sample(run *r)
{
    int calls = sdc_sampler_num_calls(r->sampler), switch_at = refiner_call(r, calls);
    float cfg = r->p->cfg_scale;
    if (report(r, "sampling", 0, calls))
        return interrupted();
    sdc_status ps = sdc_unet_pack_begin(&r->pack, r->m, switch_at, r->rows, &r->prefetch,
                                        &r->control);
    if (ps != SDC_OK)
        return ps;
    while (sdc_sampler_call_index(r->sampler) < calls) {
        if (!r->refined && sdc_sampler_call_index(r->sampler) >= switch_at &&
            !sdc_sampler_mid_step(r->sampler)) {
            sdc_status s = hand_over(r);
            if (s == SDC_OK)
                s = sdc_unet_pack_begin(&r->pack, r->m, calls - switch_at, r->rows, NULL, NULL);
            if (s != SDC_OK)
                return s;
        }
        float t = (float)sdc_sampler_timestep(r->sampler);
        unet_input(r);
        sdc_prompt_plan_select(&r->plan, sdc_sampler_call_index(r->sampler));
        sdc_unet_cond c = {.context = r->plan.batch_context, .tokens = r->plan.tokens,
                           .label = r->plan.batch_label};
        sdc_status s = SDC_OK;
        if (!r->refined) /* the nets fit the base model's UNet, not the refiner's */
            s = sdc_pipeline_control_residuals(&r->control, r->unet_in, t, &c,
                                               sdc_sampler_call_index(r->sampler), calls,
                                               &c.residuals);
        if (s != SDC_OK)
            return s;
        if (r->in_ch > 4) /* inpainting: mask + masked latent; depth: the depth map */
            c.extra = r->extra, c.extra_channels = r->in_ch - 4;
        s = sdc_pipeline_unet_tiled(r->m->unet, r->unet_in, r->rows, r->h, r->w, t, &c,
                                    r->tile, r->tile / 4, r->unet_out);
        if (s == SDC_OK)
            s = sdc_pipeline_check_finite(r->unet_out, r->rows * r->n, "the UNet");
        if (s != SDC_OK)
            return s;
        if (r->pack.m)
            sdc_unet_pack_after_call(&r->pack);
        guide(r, cfg);
        if (r->preview.mode != SDC_PREVIEW_NONE)
            preview_x0(r);
        s = sdc_sampler_step(r->sampler, r->guided, r->latent, &r->rng);
        if (s != SDC_OK)
            return s;
        if (r->in.mask && r->in_ch != 9)
            blend_known(r);
        s = sdc_pipeline_preview_step(&r->preview, r->m, r->p, sdc_sampler_mid_step(r->sampler),
                                      sdc_sampler_call_index(r->sampler), calls);
        if (s != SDC_OK)
            return s;
        if (report(r, "sampling", sdc_sampler_call_index(r->sampler), calls))
            return interrupted();
    }
    return SDC_OK;
}

static sdc_status decode(run *r, uint8_t *rgb)
{
    if (report(r, "decoding", 0, 1))
        return interrupted();
    size_t pixels = (size_t)r->p->width * r->p->height;
    float *image = malloc(3 * pixels * sizeof(float));
    if (!image)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory decoding a %dx%d image", r->p->width,
                        r->p->height);
    /* a latent too large for one UNet pass is too large for one decoder pass too */
    int taesd = r->m->taesd && !r->m->taesd_preview_only && sdc_taesd_decoder_path(r->m->taesd);
    sdc_status s = taesd ? sdc_taesd_decode(r->m->taesd, r->latent, 1, r->h, r->w, image)
                         : sdc_vae_decode(r->m->vae, r->latent, 1, r->h, r->w, image,
                                          vae_tiled(r->p) || r->tile > 0);
    if (s == SDC_OK)
        s = sdc_pipeline_check_finite(image, 3 * pixels, taesd ? "the TAESD decoder"
                                                                : "the VAE decoder");
    if (s == SDC_OK)
        sdc_vae_image_to_rgb8(image, 1, r->p->height, r->p->width, rgb);
    free(image);
    if (s == SDC_OK && r->in.mask)
        sdc_pipeline_composite(&r->in, rgb);
    if (s == SDC_OK && report(r, "decoding", 1, 1))
        return interrupted();
    return s;
}

/* The UNet's mapped weights are populated on a background thread while the text encoder
 * runs (pipeline/prefetch.h); every path from here on joins it before releasing them. */
static sdc_status prefetch_unet(run *r)
{
    sdc_status s = sdc_prefetch_plan(&r->prefetch, r->m->ck, sdc_unet_layers(r->m->unet));
    if (s == SDC_OK)
        sdc_prefetch_start(&r->prefetch);
    return s;
}

static sdc_status text(run *r)
{
    if (report(r, "text", 0, 1))
        return interrupted();
    sdc_status s = sdc_prompt_plan_encode(r->m, r->p, &r->plan);
    if (s == SDC_OK && report(r, "text", 1, 1))
        return interrupted();
    return s;
}

/* Nothing to generate: strength 0, or a mask that repaints nothing. */
static int unchanged(const run *r)
{
    if (sdc_unet_in_channels(r->m->unet) == UPSCALER_CHANNELS)
        return 0; /* its init picture is the low-res input, not a start point */
    return r->in.init_rgb && (r->p->strength <= 0.0f || (r->in.mask && r->in.mask_empty));
}

sdc_status sdc_generate(sdc_model *m, const sdc_generate_params *params, uint8_t *rgb)
{
    if (!m || !params || !rgb)
        return sdc_fail(SDC_ERR_ARG, "sdc_generate: missing model, parameters or output");
    sdc_generate_params p;
    sdc_status s = sdc_generate_params_upgrade(params, &p);
    if (s != SDC_OK)
        return s;
    if (p.inpaint_area == SDC_INPAINT_MASKED && p.init_rgb && p.mask && p.control_count > 0)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "ControlNet with \"only masked\" inpainting: the "
                        "control picture covers the whole image, not the masked area's box");
    if (p.hires)
        return sdc_pipeline_hires(m, &p, rgb);
    if (p.inpaint_area == SDC_INPAINT_MASKED)
        return sdc_pipeline_generate_masked_area(m, &p, rgb);
    return sdc_pipeline_generate(m, &p, rgb, NULL);
}

static sdc_status generate_with_model(sdc_model *m, const sdc_generate_params *p,
                                      const sdc_pipeline_start *from, uint8_t *rgb,
                                      float *final_latent);

void sdc_generate_output_size(const sdc_generate_params *params, int *width, int *height)
{
    sdc_generate_params p;
    if (!params || sdc_generate_params_upgrade(params, &p) != SDC_OK) {
        *width = *height = 0;
        return;
    }
    int masked = p.inpaint_area == SDC_INPAINT_MASKED && p.init_rgb && p.mask;
    *width = masked ? p.init_width : p.width;
    *height = masked ? p.init_height : p.height;
    if (p.hires && !masked)
        sdc_pipeline_hires_size(&p, width, height);
}

sdc_status sdc_pipeline_generate(sdc_model *m, const sdc_generate_params *p, uint8_t *rgb,
                                 float *final_latent)
{
    return sdc_pipeline_generate_from(m, p, NULL, rgb, final_latent);
}

/* The LoRAs of the prompt and of p->loras change the model for this generation only. */
sdc_status sdc_pipeline_generate_from(sdc_model *m, const sdc_generate_params *p,
                                      const sdc_pipeline_start *from, uint8_t *rgb,
                                      float *final_latent)
{
    if (!m || !p || (!rgb && !final_latent))
        return sdc_fail(SDC_ERR_ARG, "sdc_generate: missing model, parameters or output");
    sdc_pipeline_loras loras;
    sdc_pipeline_embeddings embeddings;
    sdc_status s = sdc_pipeline_embeddings_load(m, p, &embeddings);
    if (s != SDC_OK)
        return s;
    s = sdc_pipeline_loras_apply(m, p, &loras);
    if (s == SDC_OK) {
        sdc_generate_params q = *p;
        q.prompt = loras.prompt;
        s = generate_with_model(m, &q, from, rgb, final_latent);
        sdc_pipeline_loras_release(m, &loras);
    }
    sdc_pipeline_embeddings_release(m, &embeddings);
    return s;
}

static sdc_status generate_with_model(sdc_model *m, const sdc_generate_params *p,
                                      const sdc_pipeline_start *from, uint8_t *rgb,
                                      float *final_latent)
{
    run r = {.m = m, .p = p};
    if (from)
        r.from = *from;
    sdc_status s = check_params(p);
    /* FreeU is UNet state that outlives the call: set (or clear) it for every generation so
     * one without --freeu on the same loaded model is not filtered by an earlier one's. */
    sdc_freeu_params fu = {p->freeu_b1, p->freeu_b2, p->freeu_s1, p->freeu_s2};
    sdc_unet_set_freeu(m->unet, p->freeu ? &fu : NULL);
    if (s == SDC_OK)
        s = sdc_pipeline_inputs_prepare(p, &r.in);
    if (s == SDC_OK && unchanged(&r)) {
        if (rgb)
            memcpy(rgb, r.in.init_rgb, (size_t)p->width * p->height * 3);
        run_free(&r);
        return SDC_OK;
    }
    int down = sdc_vae_downscale(m->vae); /* 8; 4 for the x4 upscaler's VAE */
    r.h = p->height / down;
    r.w = p->width / down;
    r.n = (size_t)4 * r.h * r.w;
    r.in_ch = sdc_unet_in_channels(m->unet);
    if (s == SDC_OK && r.from.latent && (p->init_rgb || r.in_ch != 4))
        s = sdc_fail(SDC_ERR_UNSUPPORTED, "img2img from a latent (hires fix's latent "
                     "upscalers) needs a plain 4-channel model and no init picture; use the "
                     "lanczos upscaler");
    r.tile = p->unet_tile > 0 ? p->unet_tile
             : p->unet_tile == 0 && r.in_ch == UPSCALER_CHANNELS ? UPSCALER_TILE : 0;
    if (s == SDC_OK && r.tile % 8)
        s = sdc_fail(SDC_ERR_ARG, "UNet tiles of %d cells: a multiple of 8", r.tile);
    sdc_rng_init(&r.rng, p->rng, p->seed);
    if (s == SDC_OK)
        s = check_depth(m, p);
    if (s == SDC_OK && p->refiner)
        s = check_refiner(m, p->refiner);
    if (s == SDC_OK)
        s = make_sampler(&r);
    if (s == SDC_OK)
        s = r.from.hires_first_steps > 0
                ? sdc_prompt_plan_parse(p, r.from.hires_first_steps,
                                        sdc_sampler_schedule_steps(r.sampler_kind,
                                                                   r.from.img2img_steps),
                                        &r.plan)
                : sdc_prompt_plan_parse(p, sdc_sampler_schedule_steps(r.sampler_kind, p->steps),
                                        0, &r.plan);
    r.rows = sdc_prompt_plan_rows(&r.plan);
    if (s == SDC_OK)
        s = allocate(&r);
    if (s == SDC_OK)
        s = sdc_pipeline_preview_prepare(m, p, r.h, r.w, vae_tiled(p) || r.tile > 0,
                                         &r.preview);
    if (s == SDC_OK)
        s = sdc_pipeline_control_prepare(p, m->unet, r.h, r.w, r.rows, r.plan.subprompts,
                                         &r.control);
    if (s == SDC_OK)
        s = prefetch_unet(&r);
    if (s == SDC_OK)
        s = text(&r);
    /* Each stage's weights leave the resident set when it is over (they stay in the page
     * cache): the decoder's activations then take the UNet's place instead of adding to it. */
    sdc_checkpoint_release(m->ck, SDC_COMPONENT_TEXT);
    sdc_checkpoint_release(m->ck, SDC_COMPONENT_TEXT2);
    /* Likewise each stage's activations: their pages, already faulted in, serve the next
     * stage's (ops/pages.h), which costs ~1 ms per fresh MiB less on a VM. */
    sdc_text_encoder_free_activations(m->te);
    sdc_text_encoder_free_activations(m->te2);
    if (s == SDC_OK)
        s = start(&r);
    if (s == SDC_OK)
        s = sample(&r);
    sdc_prefetch_join(&r.prefetch); /* before the release: it would map released pages again */
    sdc_unet_pack_end(&r.pack);
    sdc_checkpoint_release(r.m->ck, SDC_COMPONENT_UNET); /* the refiner's, after a hand-over */
    sdc_unet_free_activations(r.m->unet);
    if (s == SDC_OK && final_latent)
        memcpy(final_latent, r.latent, r.n * sizeof(float));
    if (s == SDC_OK && rgb)
        s = decode(&r, rgb);
    sdc_vae_free_activations(r.m->vae);
    sdc_taesd_free_activations(r.m->taesd);
    run_free(&r);
    return s;
}
