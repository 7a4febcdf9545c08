/* The loaded model behind the public sdc_model handle, and the pieces sdc_generate is made
 * of (private to pipeline/). */
#ifndef SDC_PIPELINE_IMPL_H
#define SDC_PIPELINE_IMPL_H

#include <stdint.h>

#include "clip/conditioning.h"
#include "scheduler/noise_schedule.h"
#include "scheduler/sampler.h"
#include "sdc.h"
#include "unet/unet.h"
#include "vae/taesd.h"
#include "vae/vae.h"
#include "weights/checkpoint.h"

struct sdc_model {
    char *path;         /* model_path as given to sdc_model_load (its name goes into metadata) */
    sdc_checkpoint *ck; /* stays open: model code may keep views into its mapping */
    sdc_tokenizer *tok;
    sdc_text_encoder *te;  /* the text encoder, or NULL (SDXL refiner: bigG only) */
    sdc_text_encoder *te2; /* SDXL's second text encoder (OpenCLIP bigG), or NULL */
    sdc_unet *unet;
    sdc_vae *vae;
    sdc_taesd *taesd;   /* --taesd: decodes (and encodes, when it has an encoder), or NULL */
    int taesd_preview_only; /* the TAESD only shows previews; the VAE decodes and encodes */
    sdc_noise_schedule train;
    /* The conditioner of the last clip skip / emphasis asked for, with its prompt cache. */
    sdc_conditioner *cond;
    sdc_conditioning_params cond_params;
    char hash[11]; /* "" until computed */
    /* the textual-inversion embeddings of the current generation (--embd-dir) for te and
     * te2, or NULL */
    const sdc_embedding_db *embeddings, *embeddings2;
};

/* A caller's parameters, perhaps from an older and smaller sdc.h (struct_size), as this
 * version's struct: the missing fields take their defaults. SDC_ERR_ARG when struct_size
 * ends before the first group. */
sdc_status sdc_model_params_upgrade(const sdc_model_params *in, sdc_model_params *out);

/* Whether `type` is a valid sdc_model_params.conv_type (SDC_ERR_ARG naming it if not). */
sdc_status sdc_pipeline_conv_type_check(const char *type);
/* Quantises the model's UNet and VAE convolution kernels to conv_type `type` (checked) and
 * drops their mapped source pages; logs what it did (pipeline/conv_quant.c). */
sdc_status sdc_pipeline_quantise_convs(sdc_model *m, const char *type);
sdc_status sdc_generate_params_upgrade(const sdc_generate_params *in, sdc_generate_params *out);
sdc_status sdc_control_upgrade(const sdc_control *in, sdc_control *out);

/* sdc_generate, also handing out the final latent [4, height / 8, width / 8] (before
 * decoding) when final_latent is not NULL; nothing is written there when the init image is
 * returned unchanged. */
sdc_status sdc_pipeline_generate(sdc_model *m, const sdc_generate_params *p, uint8_t *rgb,
                                 float *final_latent);

/* Where a pass may start besides what sdc_generate_params say (hires fix's second pass). */
typedef struct sdc_pipeline_start {
    /* img2img from this latent [4, height / 8, width / 8] (pipeline scale) at p->strength
     * instead of an encoded init picture; the seed's first draw is its noise. NULL: none */
    const float *latent;
    /* img2img: 0 = the steps p->strength gives; N = the last N steps of the schedule of
     * p->steps (AUTOMATIC1111's hires pass) */
    int img2img_steps;
    /* hires fix's second pass: the first pass's prompt-schedule steps (its prompt schedules
     * count on from them); 0: not such a pass */
    int hires_first_steps;
} sdc_pipeline_start;

/* sdc_pipeline_generate from `from` (NULL: as sdc_pipeline_generate); rgb may be NULL when
 * final_latent is not: the latent is not decoded. */
sdc_status sdc_pipeline_generate_from(sdc_model *m, const sdc_generate_params *p,
                                      const sdc_pipeline_start *from, uint8_t *rgb,
                                      float *final_latent);
/* Hires fix (p->hires): rgb [p->height * p->hr_scale, ..., 3] (pipeline/hires.c). */
sdc_status sdc_pipeline_hires(sdc_model *m, const sdc_generate_params *p, uint8_t *rgb);
/* The size of the hires pass: width x height times hr_scale, rounded down to multiples of 8. */
void sdc_pipeline_hires_size(const sdc_generate_params *p, int *width, int *height);
/* dst [C, ho, wo] from src [C, hi, wi] as torch's interpolate: bilinear with
 * align_corners=False, or nearest (hires fix's latent upscalers). */
void sdc_pipeline_latent_resize(const float *src, int C, int hi, int wi, float *dst, int ho,
                                int wo, int nearest);

/* The training schedule: the diffusers folder's scheduler_config.json, else SD's. */
sdc_status sdc_pipeline_train_schedule(const sdc_checkpoint *ck, sdc_noise_schedule *out);

/* The model's conditioner for p's clip skip and emphasis mode (made on first use, kept in
 * m->cond with its prompt cache). */
sdc_status sdc_pipeline_conditioner(sdc_model *m, const sdc_generate_params *p,
                                    sdc_conditioner **out);

/* The prompts of one generation as AUTOMATIC1111 reads them (pipeline/prompt_plan.c): the
 * prompt's sub-prompts (split at AND, each with its weight) and the negative prompt, each
 * with a schedule ([a:b:n], [a|b]) over the sampler's model calls; every distinct text
 * encoded once. One UNet call takes rows [sub-prompt 0 .. n-1, negative] (the negative only
 * when guided), each row the entry its schedule holds at that call's counter. */
typedef struct sdc_prompt_plan {
    int subprompts;  /* n >= 1 */
    int single;      /* one sub-prompt of weight 1: plain classifier-free guidance */
    int guided;      /* a negative row follows the sub-prompts (cfg > 1, or AND weights) */
    float *scale;    /* [n] weight_i * cfg_scale */
    struct sdc_prompt_schedule *schedules; /* [n + 1]: the sub-prompts', the negative's */
    /* after sdc_prompt_plan_encode: */
    int **slot;      /* [n + 1][entries]: the encoded text of each schedule entry */
    int slots;
    float *contexts; /* [slots, tokens, width] */
    int tokens, width;
    float *labels;   /* [slots, label_dim] the UNet's label rows, or NULL */
    int label_dim;
    float *batch_context; /* [rows, tokens, width]: the current call's (sdc_prompt_plan_select) */
    float *batch_label;   /* [rows, label_dim], or NULL */
} sdc_prompt_plan;

/* Parses p's prompt and negative prompt over schedule_steps (sdc_sampler_schedule_steps);
 * hires_steps > 0: the hires fix's second pass, schedule_steps then the first pass's
 * (AUTOMATIC1111's hires schedules: `when` counts on from the first pass). Without
 * p->emphasis the prompts are single texts as written. */
sdc_status sdc_prompt_plan_parse(const sdc_generate_params *p, int schedule_steps,
                                 int hires_steps, sdc_prompt_plan *plan);
/* UNet rows of a call: the sub-prompts, and the negative when guided. */
int sdc_prompt_plan_rows(const sdc_prompt_plan *plan);
/* The text of row `row` at model call `call` (for tests and logs). */
const char *sdc_prompt_plan_text(const sdc_prompt_plan *plan, int row, int call);
/* Encodes every distinct text with m's text encoders (again after a refiner takes over). SDXL:
 * an empty negative prompt is the all-zero context and pooled row. */
sdc_status sdc_prompt_plan_encode(sdc_model *m, const sdc_generate_params *p,
                                  sdc_prompt_plan *plan);
/* Fills batch_context (and batch_label) with the rows of model call `call` (0, 1, ...). */
void sdc_prompt_plan_select(sdc_prompt_plan *plan, int call);
void sdc_prompt_plan_free(sdc_prompt_plan *plan);

/* The x4 upscaler's noised low-res picture extra [3, h, w] for latent size w x h (its noise
 * drawn from rng first; pipeline/upscale.c). */
sdc_status sdc_pipeline_upscale_condition(const sdc_generate_params *p, int w, int h,
                                          sdc_rng *rng, float *extra);
/* SDC_OK when x[n] holds no NaN or infinity; else an error naming the stage that made them
 * ("the VAE decoder"), so broken weights are never a silent black picture. */
sdc_status sdc_pipeline_check_finite(const float *x, size_t n, const char *stage);
/* Width of the pooled vector (0 without one). */
int sdc_pipeline_pooled_dim(sdc_model *m);
/* The UNet's label rows [rows, label_dim] (SDXL: pooled [rows, P] and the size ids of p;
 * row negative_row, or none for -1, takes the refiner's negative aesthetic score;
 * pipeline/added_cond.c), malloc'd; NULL when the UNet takes no label. */
sdc_status sdc_pipeline_labels(sdc_model *m, const sdc_generate_params *p, int rows,
                               const float *pooled, int negative_row, float **label);

/* Inputs of img2img and inpainting at the output size. */
typedef struct sdc_pipeline_inputs {
    int width, height;  /* output pixels */
    uint8_t *init_rgb;  /* [height, width, 3] init image resized, or NULL */
    uint8_t *mask;      /* [height, width] composite alpha: mask_pixels * 255 feathered */
    float *init_image;  /* [3, height, width] in [-1, 1] */
    float *mask_pixels; /* [height, width] binarised at 0.5: 1 = repaint */
    float *masked_image; /* [3, height, width]: init_image where mask_pixels is 0, else 0 */
    float *mask_latent; /* [h, w]: mask_pixels at the top-left pixel of each 8x8 block */
    int mask_empty;     /* no pixel is repainted */
} sdc_pipeline_inputs;

sdc_status sdc_pipeline_inputs_prepare(const sdc_generate_params *p, sdc_pipeline_inputs *in);
void sdc_pipeline_inputs_free(sdc_pipeline_inputs *in);
/* Feathers a 0/255 alpha with a Gaussian of sigma `blur` pixels (0: unchanged). */
sdc_status sdc_pipeline_feather(uint8_t *alpha, int width, int height, float blur);
/* rgb = keep * (1 - alpha) + rgb * alpha per pixel, alpha in 0..255; exact at 0 and 255. */
void sdc_pipeline_blend(const uint8_t *keep, const uint8_t *alpha, size_t pixels, uint8_t *rgb);
/* "Only masked" inpainting (sdc_generate_params.inpaint_area): the padded box around the
 * mask is inpainted at width x height and pasted back; rgb has the init image's size. */
sdc_status sdc_pipeline_generate_masked_area(sdc_model *m, const sdc_generate_params *p,
                                             uint8_t *rgb);
/* rgb = init where the mask is 0, the generated pixels where it is 255, blended between. */
void sdc_pipeline_composite(const sdc_pipeline_inputs *in, uint8_t *rgb);

#endif
