/* sdc: Stable Diffusion in C — public API.
 *
 * Every fallible function returns an sdc_status; on failure a one-line message naming the
 * file, tensor or argument at fault is available from sdc_last_error() (per thread). */
#ifndef SDC_H
#define SDC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SDC_VERSION "0.1.0"

typedef enum sdc_status {
    SDC_OK = 0,
    SDC_ERR_IO,          /* a file could not be opened, read, mapped or written */
    SDC_ERR_FORMAT,      /* a file's content is malformed or inconsistent */
    SDC_ERR_UNSUPPORTED, /* well-formed but not something sdc handles (yet) */
    SDC_ERR_ARG,         /* a bad argument or parameter */
    SDC_ERR_NOMEM,       /* an allocation failed */
    SDC_ERR_INTERRUPTED, /* stopped by the abort callback or a signal */
} sdc_status;

/* The message of the last error on this thread ("" when none). */
const char *sdc_last_error(void);
/* Human name of a status code ("ok", "i/o error", ...). */
const char *sdc_status_name(sdc_status status);

/* Messages that are not errors: a warning (something was skipped or guessed: a LoRA tensor
 * that matches no layer) or information (what was chosen, memory taken; what `sdc -v`
 * prints). The handler gets one line without its newline; it may be called from any thread
 * that runs a library call. NULL (the default) prints warnings to stderr as
 * "sdc: warning: ..." and drops information. Process-wide. */
typedef enum sdc_log_level { SDC_LOG_WARNING, SDC_LOG_INFO } sdc_log_level;
typedef void (*sdc_log_fn)(sdc_log_level level, const char *message, void *user_data);
void sdc_set_log(sdc_log_fn fn, void *user_data);

/* ---- Names: one table per concept ------------------------------------------------------
 *
 * Samplers, schedulers, random number generators, prediction types and model families are
 * each numbered 0 .. count - 1 in one table, the single source of their names:
 *   _name(i)          the spelling of the command line, job files and reports ("dpm++2m")
 *   _display_name(i)  AUTOMATIC1111's text in PNG metadata ("DPM++ 2M"), or NULL
 *   _description(i)   one line for --help
 *   _from_name(s)     the index of a name, accepted alias ("dpmpp_2m") or display name
 *                     ("DPM++ 2M"), -1 if unknown
 * Out-of-range indexes give NULL. Indexes of rngs and prediction types are the sdc_rng_type
 * and sdc_prediction values; sdc_generate_params takes samplers and schedulers by name. */
int sdc_sampler_count(void);
const char *sdc_sampler_name(int i);
const char *sdc_sampler_display_name(int i);
const char *sdc_sampler_description(int i);
int sdc_sampler_from_name(const char *name);
/* Model calls per step as AUTOMATIC1111 counts them: 2 for its second-order samplers (Heun,
 * DPM2, DPM2 a, DPM++ 2S a, DPM++ SDE), whose steps it doubles in prompt schedules; 1 for
 * the others; 0 for an index outside the table. */
int sdc_sampler_model_calls_per_step(int i);
/* The scheduler (an index of the table below) sampler i takes when none is given:
 * AUTOMATIC1111's for it ("karras" for DPM++ SDE, "discrete" for Euler a, ...), "leading"
 * for DDIM, DDPM and LCM, "linspace" for UniPC; -1 outside the table. */
int sdc_sampler_default_scheduler(int i);

/* Scheduler 0 is "default": the sampler's own (what a NULL sdc_generate_params.scheduler
 * selects). */
int sdc_scheduler_count(void);
const char *sdc_scheduler_name(int i);
const char *sdc_scheduler_display_name(int i);
const char *sdc_scheduler_description(int i);
int sdc_scheduler_from_name(const char *name);

int sdc_rng_count(void);
const char *sdc_rng_name(int i);
const char *sdc_rng_display_name(int i);
const char *sdc_rng_description(int i);
int sdc_rng_from_name(const char *name);

int sdc_prediction_count(void);
const char *sdc_prediction_name(int i);
const char *sdc_prediction_display_name(int i);
const char *sdc_prediction_description(int i);
int sdc_prediction_from_name(const char *name);

int sdc_family_count(void);
const char *sdc_family_name(int i);
const char *sdc_family_display_name(int i);
const char *sdc_family_description(int i);
int sdc_family_from_name(const char *name);

/* Recipes: how a checkpoint is meant to be sampled. Distilled checkpoints need few steps
 * and no guidance: "turbo" (SD-Turbo, SDXL-Turbo: 1 step, CFG 1, Euler a, trailing
 * timesteps) and "lcm" (latent consistency models and LCM-LoRAs: 4 steps, CFG 1, the LCM
 * sampler); "standard" is everything else. Indexes are sdc_recipe values. */
typedef enum sdc_recipe { SDC_RECIPE_STANDARD, SDC_RECIPE_TURBO, SDC_RECIPE_LCM,
                          SDC_RECIPE_COUNT } sdc_recipe;
int sdc_recipe_count(void);
const char *sdc_recipe_name(int i);
const char *sdc_recipe_display_name(int i);
const char *sdc_recipe_description(int i);
int sdc_recipe_from_name(const char *name);

/* The names of one table joined by ", " into buf ("euler_a, euler, ..."), truncated to
 * fit size bytes, for messages such as "choose one of ...": pass sdc_sampler_name, ... */
void sdc_names_join(const char *(*name)(int i), char *buf, size_t size);

/* ---- Models ------------------------------------------------------------------------- */

typedef struct sdc_model sdc_model; /* a loaded checkpoint: text encoder, UNet, VAE */

/* What the UNet predicts: the noise (SD 1.x, SD 2.x base) or v (SD 2.x 768-v). */
typedef enum sdc_prediction {
    SDC_PREDICTION_EPS,
    SDC_PREDICTION_V,
    SDC_PREDICTION_COUNT
} sdc_prediction;

typedef enum sdc_prediction_override {
    SDC_PREDICTION_AUTO = -1, /* from the diffusers config, else the family's rule */
    SDC_PREDICTION_FORCE_EPS = 0,
    SDC_PREDICTION_FORCE_V = 1,
} sdc_prediction_override;

/* Parameter structs grow at their end, group by group: a program built against an older
 * sdc.h passes its smaller struct, and the fields it does not know take their defaults.
 * struct_size is the caller's sizeof, set by the *_default_params() functions; a struct_size
 * of 0 or one that ends inside the first group is refused (SDC_ERR_ARG). */
typedef struct sdc_model_params {
    size_t struct_size;     /* sizeof(sdc_model_params) of the caller's header */
    /* -- files (the first group) -- */
    const char *model_path; /* single file or diffusers folder */
    const char *vae_path;   /* optional replacement VAE */
    const char *vocab_path; /* optional CLIP vocabulary (file or folder) */
    /* -- how to run it -- */
    sdc_prediction_override prediction;
    int threads;            /* 0 = one per physical core */
    int bf16;               /* linear layers, convolutions, attention in bfloat16 (AVX512_BF16;
                               process-wide, see docs/PERFORMANCE.md); 0 = fp32 */
    /* -- optional TAESD (tiny VAE, docs/taesd.md): decodes, and encodes init images, in place
     *    of the checkpoint's VAE. A diffusers file has both halves; an original decoder-only
     *    file takes its encoder from the "*_encoder.*" file beside it when there is one, else
     *    the checkpoint's VAE encodes (an info log line says which). NULL: none -- */
    const char *taesd_path;
    int taesd_preview_only; /* with taesd_path: the TAESD only shows live previews
                               (SDC_PREVIEW_TAE); the checkpoint's VAE decodes and encodes */
    /* -- int8 -- */
    int int8;               /* the text encoder's and the UNet attention / feed-forward linear
                               layers in int8: q8_0 weights (a GGUF file's own, else quantised
                               at load) times activations quantised per row, on AVX512_VNNI
                               CPUs (elsewhere f32 on the q8_0 weights); convolutions stay
                               fp32; overrides bf16; process-wide, see docs/PERFORMANCE.md */
    /* -- quantised convolutions (docs/gguf.md) -- */
    const char *conv_type;  /* NULL or "none": convolution kernels as the file stores them;
                               a ggml type ("q8_0", "q4_0", q4_1, q5_0, q5_1, q2_K .. q6_K):
                               the UNet's and VAE's kernels quantised to it once at load and
                               held as blocks (rows of C_in * kh * kw values; kernels whose
                               rows are not whole blocks stay as stored), computed on their
                               expansion; "auto": the type of the file's quantised weights
                               (none when it has none) */
    /* -- kernels -- */
    const char *cpu;        /* NULL or "auto": the widest instruction set this CPU has;
                               "scalar", "avx2", "avx512": at most that one ("scalar": the
                               portable reference kernels, to check a result against them);
                               process-wide, like bf16 */
} sdc_model_params;

sdc_model_params sdc_model_default_params(void);
sdc_status sdc_model_load(const sdc_model_params *params, sdc_model **out);
void sdc_model_free(sdc_model *model);
/* "sd1", "sd2", ... and the AUTOMATIC1111 short hash (10 hex digits) of the model file. */
const char *sdc_model_family_name(const sdc_model *model);
sdc_status sdc_model_short_hash(sdc_model *model, char hash[11]);
/* The recipe the checkpoint declares (docs/fast.md): a diffusers folder whose scheduler is
 * LCMScheduler, "turbo" or "lcm" in the file's modelspec.title metadata, else in the file or
 * folder name (as a word: "sd_xl_turbo_1.0", "lcm-dreamshaper"). *source (may be NULL) says
 * where: "scheduler config", "file metadata", "file name" or "none". */
sdc_recipe sdc_model_recipe(const sdc_model *model, const char **source);
/* The same for a checkpoint not loaded: its headers are read, no weights. */
sdc_status sdc_model_file_recipe(const char *model_path, sdc_recipe *recipe,
                                 const char **source);
/* The model's weights by storage type as one line for `-v`
 * ("weights: f16 1640 MiB, q8_0 412 MiB, f32 3 MiB"): quantised GGUF tensors count in
 * their blocks' bytes (used in place, never expanded when a GEMM reads them). */
void sdc_model_memory_text(const sdc_model *model, char *buf, size_t size);
/* The widths of the model's text encoders: widths[0] its only one (SDXL: CLIP ViT-L),
 * widths[1] SDXL's OpenCLIP bigG; 0 where it has none (the refiner has only the second). */
void sdc_model_text_widths(const sdc_model *model, int widths[2]);

/* One file of a textual-inversion folder (embd_dir) as a model takes it. */
typedef struct sdc_embedding_info {
    const char *name;  /* the word a prompt names it by: the file name without .safetensors / .pt */
    const char *path;  /* the file */
    int shape;         /* the width of its vectors (an SDXL pair: both parts' added, as
                          AUTOMATIC1111 counts), 0 when it holds none */
    int vectors;       /* how many vectors it holds, 0 when none */
    int usable;        /* 1: every text encoder of the model takes it; 0: made for another
                          model's (AUTOMATIC1111's "skipped") or not an embedding */
    const char *error; /* not a valid embedding: why, naming the file (else NULL). A
                          generation with this folder fails with it where the model reads
                          files of its kind (one tensor: one-encoder models; a pair: SDXL) */
} sdc_embedding_info;
typedef void (*sdc_embedding_fn)(const sdc_embedding_info *info, void *user_data);
/* Calls fn (info and its strings live for the call) for each .safetensors / .pt file of
 * dir, in the folder's order, as a generation with embd_dir = dir on a model with these
 * text_widths (sdc_model_text_widths) takes it. Fails only when dir cannot be read. */
sdc_status sdc_embeddings_list(const char *dir, const int text_widths[2], sdc_embedding_fn fn,
                               void *user_data);

/* ---- Generation --------------------------------------------------------------------- */

typedef enum sdc_rng_type { SDC_RNG_TYPE_CPU, SDC_RNG_TYPE_CUDA } sdc_rng_type;

/* Called after every sampling step; return non-zero to stop (the call then returns
 * SDC_ERR_INTERRUPTED). stage is "sampling", "decoding", ... */
typedef int (*sdc_progress_fn)(const char *stage, int step, int steps, void *user_data);

/* Live previews (docs/previews.md): every preview_interval sampling steps the loop shows the
 * step's denoised prediction (x0) through one of these, as stable-diffusion.cpp's --preview. */
typedef enum sdc_preview_mode {
    SDC_PREVIEW_NONE, /* no previews (the default) */
    SDC_PREVIEW_PROJ, /* a fitted linear latent-to-RGB map per family: 1/8 of the size, cheap */
    SDC_PREVIEW_TAE,  /* the TAESD decoder (sdc_model_params.taesd_path): the output size */
    SDC_PREVIEW_VAE,  /* the model's full VAE decoder: the output size, a decode per preview */
} sdc_preview_mode;

/* Receives a preview: RGB8 [height, width, 3], valid during the call only; step / steps
 * count model calls as the "sampling" progress does. Return non-zero to stop (the call then
 * returns SDC_ERR_INTERRUPTED). */
typedef int (*sdc_preview_fn)(const uint8_t *rgb, int width, int height, int step, int steps,
                              void *user_data);

/* What an inpainting run renders at the output size: the whole picture, or only a padded
 * box around the mask (small repairs on big pictures get the model's full resolution). */
typedef enum sdc_inpaint_area { SDC_INPAINT_WHOLE, SDC_INPAINT_MASKED } sdc_inpaint_area;

/* sdc_generate_params.vae_tiling: tile above this many pixels on either side */
#define SDC_VAE_TILING_AUTO (-1)
#define SDC_VAE_TILING_AUTO_PX 1024

typedef struct sdc_generate_params {
    size_t struct_size;          /* sizeof(sdc_generate_params) of the caller's header */
    /* -- sampling (the first group) -- */
    const char *prompt;
    const char *negative_prompt;
    int width, height;           /* multiples of 8 */
    int steps;
    float cfg_scale;             /* <= 1: no unconditional pass */
    uint64_t seed;
    const char *sampler;         /* a name of the sampler table (sdc_sampler_name) */
    const char *scheduler;       /* a name of the scheduler table (sdc_scheduler_name), or
                                    NULL for the sampler's default */
    int karras_sigmas;           /* with linspace / leading / trailing: diffusers'
                                    use_karras_sigmas (euler, heun, dpm++2m) */
    sdc_rng_type rng;
    int clip_skip;               /* 0 = the family's default */
    int emphasis;                /* AUTOMATIC1111 (attention:1.2) syntax and long prompts */
    float eta;                   /* DDIM eta */
    sdc_progress_fn progress;
    void *user_data;
    /* -- init image and mask: img2img / inpainting -- */
    /* RGB8 pixels [init_height, init_width, 3] (NULL for txt2img) */
    const uint8_t *init_rgb;
    int init_width, init_height;
    float strength;
    const uint8_t *mask;         /* gray8 [init_height, init_width], >= 128 repaints, or NULL */
    float mask_blur;             /* sigma in pixels of the feathered edge of the composite */
    sdc_inpaint_area inpaint_area; /* SDC_INPAINT_MASKED: the result has the init image's
                                      size; width x height is the working resolution */
    int inpaint_padding;         /* pixels around the mask's box for SDC_INPAINT_MASKED */
    /* -- extensions -- */
    /* decode (and encode) in overlapping tiles, bounding the VAE's memory: 1 always, 0 never,
     * SDC_VAE_TILING_AUTO (the default) when the picture is wider or taller than
     * SDC_VAE_TILING_AUTO_PX pixels */
    int vae_tiling;
    int freeu;                   /* apply freeu_b1, b2, s1, s2 */
    float freeu_b1, freeu_b2, freeu_s1, freeu_s2;
    /* -- SDXL: size conditioning in pixels (0 = the output size; crop 0 = none) and the
     *    refiner's aesthetic scores (0 = 6 and 2.5). An empty negative prompt is the
     *    all-zero conditioning on SDXL, as in diffusers and AUTOMATIC1111. -- */
    int original_width, original_height;
    int crop_top, crop_left;
    int target_width, target_height;
    float aesthetic_score, negative_aesthetic_score;
    /* SDXL refiner: another loaded model (NULL: none) takes over the sampling at the first
     * step that starts at or after `refiner_switch` (0..1) of the model calls, continuing the
     * same schedule with its own text encoder and aesthetic-score conditioning, and decodes
     * the result with its VAE (AUTOMATIC1111's "Refiner switch at"). */
    sdc_model *refiner;
    float refiner_switch;
    /* -- SD 2 depth model (5-channel UNet): its depth map [depth_height, depth_width], larger
     *    = nearer, any positive scale (sdc_depth_map_read); required by such a model,
     *    refused by others -- */
    const float *depth_map;
    int depth_width, depth_height;
    /* -- SD 2 x4 upscaler: init_rgb is the low-res picture (width x height is the 4x
     *    output); the noise added to it and the UNet's class label, 0..350 (default 20) -- */
    int noise_level;
    /* -- LoRA (docs/lora.md): `<lora:NAME:W>` and `<lora:NAME:W_TE:W_UNET>` tags in the
     *    prompt are removed from its text and apply lora_dir/NAME.safetensors (lora_dir NULL:
     *    a "loras" folder beside the model) to this generation only, as do the `loras`; the
     *    model is restored afterwards. -- */
    const char *lora_dir;
    const struct sdc_lora_file *loras;
    int lora_count;
    /* -- textual inversion (docs/lora.md): the embeddings of this folder (.safetensors
     *    `emb_params`, AUTOMATIC1111 .pt) are words of the prompt named by their files;
     *    NULL = none -- */
    const char *embd_dir;
    /* -- ControlNet (docs/controlnet.md): control_count nets, each with its control
     *    picture; their residuals are summed (diffusers' MultiControlNet). NULL / 0: none -- */
    const struct sdc_control *controls;
    int control_count;
    /* -- the UNet over overlapping latent windows (pipeline/unet_tiles.h) of unet_tile cells
     *    (a multiple of 8; they overlap by a quarter); 0 = automatic (the x4 upscaler above
     *    a 128-cell latent, i.e. a 512-pixel output: windows of 128), -1 = never -- */
    int unet_tile;
    /* -- hires fix (AUTOMATIC1111's): a first pass at width x height, its result upscaled
     *    hr_scale times (to multiples of 8), then an img2img pass at that size; the output is
     *    the large picture (sdc_generate_output_size). hr_upscaler: "latent" (bilinear
     *    interpolation of the latent), "latent-nearest", "lanczos" (the decoded picture), or
     *    hr_upscale_model (an SD 2 x4 upscaler, 4x, then Lanczos to the size). The second pass
     *    runs hr_steps (0 = steps) steps of a schedule of hr_steps / hr_denoising, as
     *    AUTOMATIC1111, with hr_sampler (NULL = sampler) and the same seed. -- */
    int hires;
    float hr_scale;              /* default 2 */
    const char *hr_upscaler;     /* NULL = "latent" */
    sdc_model *hr_upscale_model; /* NULL: none */
    int hr_steps;
    float hr_denoising;          /* 0 < x <= 1, default 0.7 */
    const char *hr_sampler;
    /* -- live previews: preview_fn (with user_data) gets the denoised prediction of every
     *    preview_interval-th sampling step (default 1) and of the last one, decoded as
     *    `preview` says; SDC_PREVIEW_NONE or a NULL preview_fn: none. Hires fix previews
     *    both passes, each at its size. -- */
    sdc_preview_mode preview;
    int preview_interval;
    sdc_preview_fn preview_fn;
} sdc_generate_params;

/* What a control picture goes through before it is resized to the output size. */
typedef enum sdc_control_preprocess {
    SDC_CONTROL_PREPROCESS_NONE,   /* used as given (edges, depth, pose maps ...) */
    SDC_CONTROL_PREPROCESS_INVERT, /* 255 - value: black lines on white become white on black */
    SDC_CONTROL_PREPROCESS_CANNY,  /* Canny edges with canny_low / canny_high (as OpenCV) */
} sdc_control_preprocess;

/* One ControlNet of a generation. Its own struct_size, as the parameter structs above: an
 * array of them is read with the stride of controls[0].struct_size. */
typedef struct sdc_control {
    size_t struct_size;      /* sizeof(sdc_control) of the caller's header */
    const char *path;        /* ControlNet file (.safetensors, .pth) or diffusers folder */
    const uint8_t *rgb;      /* control picture RGB8 [height, width, 3]; stretched to the
                                output size with Pillow's Lanczos filter when it differs */
    int width, height;
    float strength;          /* conditioning scale (default 1) */
    float start, end;        /* guidance window: fractions of the sampling loop (0, 1) */
    int guess_mode;          /* the net sees only the prompt's row, its residuals scaled
                                from 0.1 (first skip) up to 1 (middle block) */
    sdc_control_preprocess preprocess;
    int canny_low, canny_high; /* hysteresis thresholds of SDC_CONTROL_PREPROCESS_CANNY */
} sdc_control;

sdc_control sdc_control_default_params(void);

/* A LoRA named by path instead of a prompt tag (`sdc --lora FILE:W`). */
typedef struct sdc_lora_file {
    const char *path;
    float te_weight, unet_weight;
} sdc_lora_file;

sdc_generate_params sdc_generate_default_params(void);
/* Sets steps, cfg_scale, sampler and scheduler of *params to the recipe's; SDC_RECIPE_STANDARD
 * sets those of sdc_generate_default_params(). */
void sdc_recipe_apply(sdc_recipe recipe, sdc_generate_params *params);

/* Renders one image into rgb (RGB8 [height, width, 3] of sdc_generate_output_size,
 * caller-allocated). */
sdc_status sdc_generate(sdc_model *model, const sdc_generate_params *params, uint8_t *rgb);
/* The size of the picture sdc_generate writes: width x height; with SDC_INPAINT_MASKED the
 * init picture's; with hires fix the second pass's. */
void sdc_generate_output_size(const sdc_generate_params *params, int *width, int *height);

/* ---- Files: what the sdc program writes and reads, for any program --------------------- */

/* *depth [height, width] (malloc'd) from a picture: a 16-bit gray PNG at full precision
 * (value / 65535), any other PNG, JPEG or BMP as its gray / 255. */
sdc_status sdc_depth_map_read(const char *path, float **depth, int *width, int *height);

/* The AUTOMATIC1111 'parameters' text sdc stores in its PNGs for an image of `model` made
 * with `params` (prompt, "Steps: 20, Sampler: Euler a, ..., Model hash: ..., Version: sdc
 * x"): *text is malloc'd (free() it). Reads the model file once for its hash. */
sdc_status sdc_generate_parameters_text(sdc_model *model, const sdc_generate_params *params,
                                        char **text);

/* Writes rgb (RGB8 [height, width, 3]) as the extension of path says: .png, with
 * `parameters` (may be NULL) as its 'parameters' text chunk; .jpg / .jpeg; .bmp. Refuses to
 * replace an existing file unless `overwrite`; the file appears complete or not at all. */
sdc_status sdc_image_save(const char *path, const uint8_t *rgb, int width, int height,
                          const char *parameters, int overwrite);
/* Reads a PNG, JPEG or BMP as RGB8: *rgb is malloc'd [*height, *width, 3] (free() it). */
sdc_status sdc_image_read(const char *path, uint8_t **rgb, int *width, int *height);
/* The 'parameters' text of a PNG into *text: malloc'd, or NULL when the file has none. */
sdc_status sdc_png_read_parameters(const char *path, char **text);

/* `sdc info`: family, layout, prediction, dtypes and parameters per component, unused
 * tensors and the AUTOMATIC1111 short hash of the checkpoint at path, as text to out. */
sdc_status sdc_model_info_print(const char *path, FILE *out);

/* `sdc convert`: any checkpoint sdc opens (single .safetensors, .ckpt, diffusers folder) as
 * one LDM-named .safetensors at out, written atomically. dtype "f32", "f16" or "bf16" stores
 * the float tensors in that type, NULL keeps each one's; a ggml type ("q8_0", "q4_0", "q4_1", "q5_0",
 * "q5_1", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K") writes the GGUF file stable-diffusion.cpp's converter makes of a single file (a diffusers folder: of its
 * .safetensors conversion) (docs/gguf.md); progress (stage "converting", step =
 * tensors written) may stop it; *tensors (may be NULL) receives the number written. */
sdc_status sdc_convert(const char *in, const char *out, const char *dtype, int overwrite,
                       sdc_progress_fn progress, void *user_data, size_t *tensors);

#ifdef __cplusplus
}
#endif

#endif
