#include "cmd/options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "ops/error.h"
#include "ops/quant.h"
#include "ops/quantize.h"

enum {
    OPT_STEPS = 1000, OPT_CFG, OPT_RECIPE, OPT_SAMPLER, OPT_SCHEDULER, OPT_RNG, OPT_CLIP_SKIP,
    OPT_PREDICTION, OPT_VAE, OPT_TAESD, OPT_TAESD_PREVIEW_ONLY, OPT_VAE_TILING, OPT_NO_VAE_TILING,
    OPT_FREEU, OPT_VOCAB, OPT_STRENGTH,
    OPT_MASK, OPT_MASK_BLUR,
    OPT_INVERT_MASK, OPT_ETA, OPT_OVERWRITE, OPT_QUIET, OPT_VERSION, OPT_NO_EMPHASIS,
    OPT_INPAINT_AREA, OPT_PADDING, OPT_OUTPAINT, OPT_OUTPAINT_FILL, OPT_PRECISION,
    OPT_KARRAS_SIGMAS, OPT_ORIGINAL_SIZE, OPT_TARGET_SIZE, OPT_CROP, OPT_AESTHETIC,
    OPT_NEGATIVE_AESTHETIC, OPT_REFINER, OPT_REFINER_SWITCH, OPT_DEPTH_MAP, OPT_LORA,
    OPT_LORA_DIR, OPT_EMBD_DIR, OPT_NOISE_LEVEL, OPT_CONTROL_NET, OPT_CONTROL_IMAGE,
    OPT_CONTROL_STRENGTH, OPT_CONTROL_START, OPT_CONTROL_END, OPT_GUESS_MODE, OPT_CANNY,
    OPT_CONTROL_PREPROCESS,
    OPT_UNET_TILE, OPT_HIRES, OPT_HR_SCALE,
    OPT_HR_UPSCALER, OPT_HR_STEPS, OPT_HR_DENOISING, OPT_HR_SAMPLER,
    OPT_PREVIEW, OPT_PREVIEW_PATH, OPT_PREVIEW_INTERVAL, OPT_CONV_TYPE, OPT_CPU,
};

static const struct option long_options[] = {
    {"model", required_argument, 0, 'm'},
    {"prompt", required_argument, 0, 'p'},
    {"negative-prompt", required_argument, 0, 'n'},
    {"output", required_argument, 0, 'o'},
    {"width", required_argument, 0, 'W'},
    {"height", required_argument, 0, 'H'},
    {"seed", required_argument, 0, 's'},
    {"batch-count", required_argument, 0, 'b'},
    {"threads", required_argument, 0, 't'},
    {"init-img", required_argument, 0, 'i'},
    {"verbose", no_argument, 0, 'v'},
    {"help", no_argument, 0, 'h'},
    {"steps", required_argument, 0, OPT_STEPS},
    {"cfg-scale", required_argument, 0, OPT_CFG},
    {"sampling-method", required_argument, 0, OPT_SAMPLER},
    {"scheduler", required_argument, 0, OPT_SCHEDULER},
    {"recipe", required_argument, 0, OPT_RECIPE},
    {"karras-sigmas", no_argument, 0, OPT_KARRAS_SIGMAS},
    {"rng", required_argument, 0, OPT_RNG},
    {"clip-skip", required_argument, 0, OPT_CLIP_SKIP},
    {"prediction", required_argument, 0, OPT_PREDICTION},
    {"vae", required_argument, 0, OPT_VAE},
    {"taesd", required_argument, 0, OPT_TAESD},
    {"taesd-preview-only", no_argument, 0, OPT_TAESD_PREVIEW_ONLY},
    {"vae-tiling", no_argument, 0, OPT_VAE_TILING},
    {"no-vae-tiling", no_argument, 0, OPT_NO_VAE_TILING},
    {"freeu", required_argument, 0, OPT_FREEU},
    {"vocab", required_argument, 0, OPT_VOCAB},
    {"strength", required_argument, 0, OPT_STRENGTH},
    {"mask", required_argument, 0, OPT_MASK},
    {"mask-blur", required_argument, 0, OPT_MASK_BLUR},
    {"invert-mask", no_argument, 0, OPT_INVERT_MASK},
    {"inpaint-area", required_argument, 0, OPT_INPAINT_AREA},
    {"precision", required_argument, 0, OPT_PRECISION},
    {"conv-type", required_argument, 0, OPT_CONV_TYPE},
    {"cpu", required_argument, 0, OPT_CPU},
    {"padding", required_argument, 0, OPT_PADDING},
    {"outpaint", required_argument, 0, OPT_OUTPAINT},
    {"outpaint-fill", required_argument, 0, OPT_OUTPAINT_FILL},
    {"eta", required_argument, 0, OPT_ETA},
    {"lora", required_argument, 0, OPT_LORA},
    {"lora-model-dir", required_argument, 0, OPT_LORA_DIR},
    {"embd-dir", required_argument, 0, OPT_EMBD_DIR},
    {"refiner", required_argument, 0, OPT_REFINER},
    {"depth-map", required_argument, 0, OPT_DEPTH_MAP},
    {"noise-level", required_argument, 0, OPT_NOISE_LEVEL},
    {"control-net", required_argument, 0, OPT_CONTROL_NET},
    {"control-image", required_argument, 0, OPT_CONTROL_IMAGE},
    {"control-strength", required_argument, 0, OPT_CONTROL_STRENGTH},
    {"control-start", required_argument, 0, OPT_CONTROL_START},
    {"control-end", required_argument, 0, OPT_CONTROL_END},
    {"guess-mode", no_argument, 0, OPT_GUESS_MODE},
    {"canny", required_argument, 0, OPT_CANNY},
    {"control-preprocess", required_argument, 0, OPT_CONTROL_PREPROCESS},
    {"unet-tile", required_argument, 0, OPT_UNET_TILE},
    {"hires-fix", no_argument, 0, OPT_HIRES},
    {"hr-scale", required_argument, 0, OPT_HR_SCALE},
    {"hr-upscaler", required_argument, 0, OPT_HR_UPSCALER},
    {"hr-steps", required_argument, 0, OPT_HR_STEPS},
    {"hr-denoising", required_argument, 0, OPT_HR_DENOISING},
    {"hr-sampling-method", required_argument, 0, OPT_HR_SAMPLER},
    {"refiner-switch", required_argument, 0, OPT_REFINER_SWITCH},
    {"original-size", required_argument, 0, OPT_ORIGINAL_SIZE},
    {"target-size", required_argument, 0, OPT_TARGET_SIZE},
    {"crop", required_argument, 0, OPT_CROP},
    {"aesthetic-score", required_argument, 0, OPT_AESTHETIC},
    {"negative-aesthetic-score", required_argument, 0, OPT_NEGATIVE_AESTHETIC},
    {"preview", required_argument, 0, OPT_PREVIEW},
    {"preview-path", required_argument, 0, OPT_PREVIEW_PATH},
    {"preview-interval", required_argument, 0, OPT_PREVIEW_INTERVAL},
    {"overwrite", no_argument, 0, OPT_OVERWRITE},
    {"quiet", no_argument, 0, OPT_QUIET},
    {"no-emphasis", no_argument, 0, OPT_NO_EMPHASIS},
    {"version", no_argument, 0, OPT_VERSION},
    {0, 0, 0, 0},
};

/* One line per row of a name table (include/sdc.h), the default marked: the list of
 * choices can never disagree with what the parser accepts. */
static void print_choices(FILE *out, const char *(*name)(int), const char *(*description)(int),
                          int default_index)
{
    for (int i = 0; name(i); i++)
        fprintf(out, "%30s%-16s %s%s\n", "", name(i), description(i),
                i == default_index ? " (default)" : "");
}

static void print_help_model(FILE *out)
{
    fputs(
        "usage: sdc [generate] [-m MODEL] -p PROMPT [options]\n"
        "       sdc batch JOBFILE [options]   (see sdc batch --help)\n"
        "       sdc serve [-m MODEL] [options] (see sdc serve --help)\n"
        "       sdc info MODEL\n"
        "       sdc metadata IMAGE.png\n"
        "\n"
        "Generates images with a Stable Diffusion checkpoint on the CPU.\n"
        "\n"
        "Model:\n"
        "  -m, --model PATH          .safetensors single file or diffusers folder\n"
        "                            (default, or -m demo: the built-in demo model, 64x64)\n"
        "      --vae PATH            replacement VAE (single file or diffusers vae folder)\n"
        "      --taesd FILE          decode (and encode init images) with this TAESD, the tiny\n"
        "                            VAE: a diffusers file, or an original *_decoder file (its\n"
        "                            *_encoder beside it encodes, else the model's VAE; -v says),\n"
        "                            or a folder holding either\n"
        "      --taesd-preview-only  with --taesd: the TAESD only shows live previews (--preview\n"
        "                            tae); the model's VAE decodes the picture\n"
        "      --vocab PATH          CLIP vocabulary: bpe_simple_vocab_16e6.txt.gz, or a folder\n"
        "                            with vocab.json + merges.txt (default: the model's own,\n"
        "                            then $SDC_VOCAB, then ~/.local/share/sdc)\n"
        "      --prediction P        override the model's prediction type:\n",
        out);
    print_choices(out, sdc_prediction_name, sdc_prediction_description, -1);
    fputs(
        "  -r, --rerender PNG        render a picture again from its PNG parameters (prompt,\n"
        "                            sampler, schedule, seed, size, CFG, LoRA tags ...; the\n"
        "                            options after it change them); its model is found by\n"
        "                            hash, LoRAs by hash in the LoRA folder\n"
        "      --model-dir DIR       with -r: where its model is looked for (default: .)\n"
        "      --lora-model-dir DIR  where <lora:NAME:W> prompt tags find NAME.safetensors\n"
        "                            (or .pt, .ckpt; default: a loras folder beside the model)\n"
        "      --lora FILE[:W]       apply this LoRA file at weight W (default 1); repeatable\n"
        "      --embd-dir DIR        textual-inversion embeddings: each file's name is a word\n"
        "                            of the prompt (.safetensors, AUTOMATIC1111 .pt)\n",
        out);
}

static void print_help_sampling(FILE *out)
{
    sdc_generate_params d = sdc_generate_default_params();
    fputs(
        "\n"
        "Prompt:\n"
        "  -p, --prompt TEXT         what to draw: AUTOMATIC1111's (word:1.2), [word], BREAK,\n"
        "                            [from:to:step], [a|b], A :w AND B (docs/prompts.md)\n"
        "  -n, --negative-prompt TEXT  what to avoid (default: empty); [from:to:step], [a|b]\n"
        "      --no-emphasis         plain prompts truncated to 75 tokens (diffusers parity)\n"
        "      --clip-skip N         1 = last text layer, 2 = penultimate (default: model's)\n"
        "\n"
        "Sampling:\n"
        "  -W, --width N             image width, multiple of 8 (default 512, 64 with the demo\n"
        "                            model, or the init image's width rounded down to 8)\n"
        "  -H, --height N            image height, multiple of 8 (default 512, 64 with the demo\n"
        "                            model, or the init image's height rounded down to 8)\n"
        "      --steps N             sampling steps (default 20, or the --recipe's)\n"
        "      --cfg-scale X         classifier-free guidance; 1 = none (default 7.0, or the\n"
        "                            --recipe's)\n"
        "      --sampling-method M   the sampler:\n",
        out);
    print_choices(out, sdc_sampler_name, sdc_sampler_description,
                  sdc_sampler_from_name(d.sampler));
    fputs("      --scheduler S         k-diffusion sigmas or diffusers timestep spacing:\n", out);
    print_choices(out, sdc_scheduler_name, sdc_scheduler_description, 0);
    fputs("      --recipe R            the settings few-step models are made for; --steps,\n"
          "                            --cfg-scale, --sampling-method, --scheduler given win:\n"
          "                              auto             the model's, or an LCM-LoRA's (docs/fast.md) (default)\n",
          out);
    print_choices(out, sdc_recipe_name, sdc_recipe_description, -1);
    fputs(
        "      --karras-sigmas       with linspace, leading or trailing: Karras sigmas as\n"
        "                            diffusers' use_karras_sigmas (euler, heun, dpm++2m)\n"
        "      --eta X               DDIM eta (default 0)\n"
        "  -s, --seed N              seed; -1 picks a random one (default 42)\n"
        "      --rng R               the noise generator:\n",
        out);
    print_choices(out, sdc_rng_name, sdc_rng_description, (int)d.rng);
}

static void print_help_output(FILE *out)
{
    fputs(
        "  -b, --batch-count N       images to render, seeds s, s+1, ... (default 1)\n"
        "\n"
        "SDXL (an empty negative prompt is the all-zero conditioning, as in diffusers and\n"
        "AUTOMATIC1111):\n"
        "      --refiner FILE        a refiner model takes over the sampling (SDXL refiner)\n"
        "      --refiner-switch X    at this fraction of the steps (default 0.8)\n"
        "      --original-size W,H   size conditioning (default: the output size)\n"
        "      --target-size W,H     size conditioning (default: the output size)\n"
        "      --crop TOP,LEFT       crop conditioning (default 0,0)\n"
        "      --aesthetic-score X   refiner models: aesthetic score (default 6)\n"
        "      --negative-aesthetic-score X  refiner models: for the negative row (default 2.5)\n"
        "      --freeu B1,B2,S1,S2   FreeU backbone / skip factors (e.g. 1.5,1.6,0.9,0.2)\n"
        "\n"
        "Hires fix (AUTOMATIC1111's: a pass at -W x -H, upscaled, then img2img at the size):\n"
        "      --hires-fix           turn it on; the output is --hr-scale times -W x -H\n"
        "      --hr-scale X          1..8 (default 2); sizes round down to multiples of 8\n"
        "      --hr-upscaler U       latent (default), latent-nearest, lanczos, or the file\n"
        "                            of an SD 2 x4 upscaler model\n"
        "      --hr-steps N          steps of the second pass (default: --steps)\n"
        "      --hr-denoising X      its denoising strength, (0, 1] (default 0.7)\n"
        "      --hr-sampling-method M  its sampler (default: --sampling-method)\n"
        "\n"
        "img2img and inpainting:\n"
        "  -i, --init-img FILE       start from this picture (PNG, JPEG or BMP)\n"
        "      --strength X          0..1, how much to change it (default 0.75)\n"
        "      --mask FILE           white = repaint, black = keep\n"
        "      --invert-mask         swap white and black in the mask\n"
        "      --mask-blur PX        feather the mask edge (default 4)\n"
        "      --inpaint-area A      whole (default): render the whole picture at -W x -H;\n"
        "                            masked: render only the box around the mask at -W x -H\n"
        "                            and paste it back (full detail for small repairs)\n"
        "      --padding PX          pixels around the mask's box for masked (default 32)\n"
        "      --outpaint L,T,R,B    grow the canvas by these borders and paint them\n"
        "      --outpaint-fill F     edge (default): extend the edge pixels; noise\n"
        "      --depth-map FILE      SD 2 depth models: the depth map (larger = nearer; a\n"
        "                            16-bit gray PNG keeps its precision)\n"
        "      --noise-level N       SD 2 x4 upscaler: noise added to the -i picture, 0..350\n"
        "                            (default 20); the output is 4x the picture\n"
        "      --unet-tile N         run the UNet in overlapping windows of N latent cells (a\n"
        "                            multiple of 8); 0 (default): the x4 upscaler above a\n"
        "                            512-pixel output; -1: never\n"
        "\n"
        "ControlNet (repeat --control-net for several; the flags after one apply to it):\n"
        "      --control-net FILE    ControlNet: .safetensors / .pth file or diffusers folder\n"
        "      --control-image PIC   its control picture (edges, depth, pose ...), stretched\n"
        "                            to the output size\n"
        "      --control-strength X  scale of its residuals, 0..10 (default 1)\n"
        "      --control-start X     fraction of the steps where it starts (default 0)\n"
        "      --control-end X       fraction of the steps where it stops (default 1)\n"
        "      --guess-mode          the net sees only the prompt's row (no prompt needed)\n"
        "      --canny LOW,HIGH      make the control picture Canny edges of PIC (as OpenCV)\n"
        "      --control-preprocess P  none (default) or invert (black lines on white)\n"
        "\n"
        "Output:\n"
        "  -o, --output FILE         .png (with generation parameters), .jpg or .bmp\n"
        "                            (default output.png; with -b N, output_1.png ...)\n"
        "      --overwrite           replace an existing output file\n"
        "      --vae-tiling          decode in tiles (bounded memory for large images;\n"
        "                            the default above 1024 pixels on either side)\n"
        "      --no-vae-tiling       decode in one pass whatever the size\n"
        "      --preview M           live preview of the denoised picture while sampling:\n"
        "                            none (default), proj (a fitted latent-to-RGB map, 1/8\n"
        "                            size), vae (the full VAE decoder), tae (needs --taesd)\n"
        "      --preview-path FILE   where it is written, atomically (default preview.png);\n"
        "                            given alone it turns previews on (tae with --taesd, else\n"
        "                            proj)\n"
        "      --preview-interval N  sampling steps between previews (default 1)\n"
        "  -t, --threads N           worker threads (default: all cores)\n"
        "      --precision P         fp32 (default); bf16: linear layers, convolutions and\n"
        "                            attention in bfloat16 on AVX512_BF16 CPUs (faster,\n"
        "                            ~3 digits); int8: attention, feed-forward and text\n"
        "                            encoder linear layers on q8_0 weights (int8 SIMD)\n"
        "      --conv-type T         none (default); q8_0, q4_0, ... (types of sdc\n"
        "                            convert) or auto (the file's quantised type):\n"
        "                            UNet and VAE convolution kernels quantised at\n"
        "                            load and kept so (less memory; pictures change\n"
        "                            a little)\n"
        "      --cpu ISA             kernels' instruction set at most: auto (default: the\n"
        "                            widest this CPU has), avx512, avx2, or scalar (the\n"
        "                            portable reference kernels: slow, for checking)\n"
        "  -v, --verbose             per-stage timings and peak memory\n"
        "      --quiet               no progress output\n"
        "  -h, --help                this text\n"
        "      --version             print the version\n"
        "\n"
        "Exit status: 0 success, 1 runtime failure, 2 usage error, 130/143 interrupted.\n",
        out);
}

void sdc_cli_print_help(FILE *out)
{
    print_help_model(out);
    print_help_sampling(out);
    print_help_output(out);
}

int sdc_cli_cpu_ok(const char *arg)
{
    return !strcmp(arg, "auto") || !strcmp(arg, "scalar") || !strcmp(arg, "avx2") ||
           !strcmp(arg, "avx512");
}

/* A --conv-type: none, auto, or a type sdc quantises to. */
static int conv_type_ok(const char *arg)
{
    int id = sdc_qtype_from_name(arg);
    return strcmp(arg, "none") == 0 || strcmp(arg, "auto") == 0 ||
           (id >= 0 && sdc_quantize_supported((uint32_t)id));
}

/* Records the message (sdc_last_error) for the caller to print with its own context: the
 * command line, or a job file's line. */
static int usage_error(const char *fmt, const char *arg)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    sdc_fail(SDC_ERR_ARG, "%s", msg);
    return 2;
}

/* A flag's value: absent (command line) or "true" sets it, "false" clears it. */
static int flag_on(const char *arg) { return !arg || strcmp(arg, "false") != 0; }

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_float(const char *s, float lo, float hi, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_seed(const char *s, sdc_cli_options *opt)
{
    char *end;
    if (strcmp(s, "-1") == 0) {
        opt->seed_random = 1;
        return 0;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        return -1;
    opt->gen.seed = v;
    return 0;
}

static int parse_freeu(const char *s, sdc_generate_params *g)
{
    char extra;
    if (sscanf(s, "%f,%f,%f,%f%c", &g->freeu_b1, &g->freeu_b2, &g->freeu_s1, &g->freeu_s2,
               &extra) != 4)
        return -1;
    g->freeu = 1;
    return 0;
}

/* "A,B" with both in 0..16384 (sizes: 1..16384). */
static int parse_pair(const char *s, int min, int *a, int *b)
{
    char extra;
    if (sscanf(s, "%d,%d%c", a, b, &extra) != 2)
        return -1;
    return *a < min || *b < min || *a > 16384 || *b > 16384 ? -1 : 0;
}

static int parse_borders(const char *s, int pad[4])
{
    char extra;
    if (sscanf(s, "%d,%d,%d,%d%c", &pad[0], &pad[1], &pad[2], &pad[3], &extra) != 4)
        return -1;
    for (int i = 0; i < 4; i++)
        if (pad[i] < 0 || pad[i] > 4096)
            return -1;
    return 0;
}

/* The index of arg in a name table (include/sdc.h), or -1 after recording "unknown
 * --rng 'x'; choose one of cpu, cuda". */
static int choice(const char *option, const char *arg, const char *(*name)(int),
                  int (*from_name)(const char *))
{
    int i = from_name(arg);
    if (i < 0) {
        char choices[256], msg[512];
        sdc_names_join(name, choices, sizeof choices);
        snprintf(msg, sizeof msg, "unknown %s '%s'; choose one of %s", option, arg, choices);
        usage_error("%s", msg);
    }
    return i;
}

/* AUTOMATIC1111's combined names ("DPM++ 2M SDE Karras", its job files before it had a
 * separate schedule type): the sampler with the schedule as a last word, or -1. */
static int combined_sampler(const char *arg, sdc_generate_params *g)
{
    const char *space = strrchr(arg, ' ');
    int schedule = space ? sdc_scheduler_from_name(space + 1) : -1;
    if (schedule <= 0 || !sdc_scheduler_display_name(schedule))
        return -1;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(space - arg), arg);
    int i = sdc_sampler_from_name(name);
    if (i >= 0)
        g->scheduler = sdc_scheduler_name(schedule);
    return i;
}

/* The options whose values are rows of a name table; 0, or 2 with the message recorded. */
static int apply_choice(int c, const char *arg, sdc_cli_options *o)
{
    sdc_generate_params *g = &o->gen;
    int i;
    switch (c) {
    case OPT_SAMPLER:
        if ((i = combined_sampler(arg, g)) >= 0)
            o->scheduler_given = 1;
        else if ((i = choice("--sampling-method", arg, sdc_sampler_name,
                             sdc_sampler_from_name)) < 0)
            return 2;
        g->sampler = sdc_sampler_name(i);
        o->sampler_given = 1;
        return 0;
    case OPT_HR_SAMPLER:
        if ((i = choice("--hr-sampling-method", arg, sdc_sampler_name,
                        sdc_sampler_from_name)) < 0)
            return 2;
        g->hr_sampler = sdc_sampler_name(i);
        return 0;
    case OPT_SCHEDULER: /* row 0, "default", is what no --scheduler selects */
        if ((i = choice("--scheduler", arg, sdc_scheduler_name, sdc_scheduler_from_name)) < 0)
            return 2;
        g->scheduler = i ? sdc_scheduler_name(i) : NULL;
        o->scheduler_given = 1;
        return 0;
    case OPT_RECIPE: /* "auto" is no row: the model's recipe, chosen once it is loaded */
        if (strcmp(arg, "auto") == 0)
            i = -1;
        else if ((i = choice("--recipe", arg, sdc_recipe_name, sdc_recipe_from_name)) < 0)
            return 2;
        o->recipe = i;
        return 0;
    case OPT_RNG:
        if ((i = choice("--rng", arg, sdc_rng_name, sdc_rng_from_name)) < 0)
            return 2;
        g->rng = (sdc_rng_type)i;
        return 0;
    default: /* OPT_PREDICTION: an sdc_prediction index is the matching override */
        if ((i = choice("--prediction", arg, sdc_prediction_name, sdc_prediction_from_name)) < 0)
            return 2;
        o->prediction = (sdc_prediction_override)i;
        return 0;
    }
}

/* --lora FILE[:WEIGHT]: the weight is what follows the last ':' when it is a number. */
static int parse_lora(const char *s, sdc_cli_options *o)
{
    if (o->lora_count >= SDC_CLI_MAX_LORAS || !*s)
        return 1;
    const char *colon = strrchr(s, ':');
    float w = 1.0f;
    size_t len = strlen(s);
    if (colon && !parse_float(colon + 1, -100, 100, &w))
        len = (size_t)(colon - s);
    if (len == 0 || len >= sizeof o->lora_paths[0])
        return 1;
    memcpy(o->lora_paths[o->lora_count], s, len);
    o->lora_paths[o->lora_count][len] = '\0';
    o->lora_weights[o->lora_count++] = w;
    return 0;
}

void sdc_cli_loras(const sdc_cli_options *o, sdc_lora_file files[SDC_CLI_MAX_LORAS],
                   sdc_generate_params *g)
{
    for (int i = 0; i < o->lora_count; i++)
        files[i] = (sdc_lora_file){o->lora_paths[i], o->lora_weights[i], o->lora_weights[i]};
    g->loras = o->lora_count ? files : NULL;
    g->lora_count = o->lora_count;
}

/* The entry the per-net flags write: the last --control-net's, or the first. */
static sdc_cli_control *current_control(sdc_cli_options *o)
{
    int i = o->control_count > 0 ? o->control_count - 1 : 0;
    if (o->control_entries < i + 1)
        o->control_entries = i + 1;
    return &o->controls[i];
}

static int parse_canny(const char *s, sdc_cli_control *c)
{
    char extra;
    int lo, hi;
    if (sscanf(s, "%d,%d%c", &lo, &hi, &extra) != 2 || lo < 0 || hi < 0 || lo > 4080 ||
        hi > 4080)
        return -1;
    c->preprocess = SDC_CONTROL_PREPROCESS_CANNY;
    c->canny_low = lo, c->canny_high = hi;
    return 0;
}

/* The ControlNet flags; 0, or 2 with the message recorded. */
static int apply_control(int c, const char *arg, sdc_cli_options *o)
{
    if (c == OPT_CONTROL_NET) {
        if (o->control_count == SDC_CLI_MAX_CONTROLS)
            return usage_error("at most 8 ControlNets (--control-net '%s')", arg);
        o->controls[o->control_count++].net = arg;
    }
    sdc_cli_control *n = current_control(o);
    switch (c) {
    case OPT_CONTROL_IMAGE: n->image = arg; return 0;
    case OPT_GUESS_MODE: n->guess_mode = flag_on(arg); return 0;
    case OPT_CONTROL_STRENGTH:
        return parse_float(arg, 0, 10, &n->strength) ? usage_error("--control-strength must be 0..10, not '%s'", arg) : 0;
    case OPT_CONTROL_START:
        return parse_float(arg, 0, 1, &n->start) ? usage_error("--control-start must be 0..1, not '%s'", arg) : 0;
    case OPT_CONTROL_END:
        return parse_float(arg, 0, 1, &n->end) ? usage_error("--control-end must be 0..1, not '%s'", arg) : 0;
    case OPT_CANNY:
        return parse_canny(arg, n) ? usage_error("--canny takes LOW,HIGH thresholds of 0..4080, not '%s'", arg) : 0;
    case OPT_CONTROL_PREPROCESS:
        if (strcmp(arg, "none") && strcmp(arg, "invert"))
            return usage_error("--control-preprocess must be none or invert, not '%s'", arg);
        n->preprocess = strcmp(arg, "invert") == 0 ? SDC_CONTROL_PREPROCESS_INVERT
                                                   : SDC_CONTROL_PREPROCESS_NONE;
        return 0;
    }
    return 0;
}

void sdc_cli_controls(const sdc_cli_options *o, const sdc_image *pictures,
                      sdc_control files[SDC_CLI_MAX_CONTROLS], sdc_generate_params *g)
{
    for (int i = 0; i < o->control_count; i++) {
        const sdc_cli_control *c = &o->controls[i];
        files[i] = sdc_control_default_params();
        files[i].path = c->net;
        files[i].rgb = pictures[i].pixels;
        files[i].width = pictures[i].width;
        files[i].height = pictures[i].height;
        files[i].strength = c->strength;
        files[i].start = c->start;
        files[i].end = c->end;
        files[i].guess_mode = c->guess_mode;
        files[i].preprocess = c->preprocess;
        files[i].canny_low = c->canny_low;
        files[i].canny_high = c->canny_high;
    }
    g->controls = o->control_count ? files : NULL;
    g->control_count = o->control_count;
}

/* Applies one option; returns 0, or 2 after printing a usage error. */
static int apply_option(int c, const char *arg, sdc_cli_options *o)
{
    sdc_generate_params *g = &o->gen;
    switch (c) {
    case 'm': o->model = arg; return 0;
    case 'p': g->prompt = arg; return 0;
    case 'n': g->negative_prompt = arg; return 0;
    case 'o': o->output = arg; return 0;
    case 'i': o->init_img = arg; return 0;
    case 'v': o->verbose = flag_on(arg); return 0;
    case OPT_VAE: o->vae = arg; return 0;
    case OPT_TAESD: o->taesd = arg; return 0;
    case OPT_REFINER: o->refiner = arg; return 0;
    case OPT_DEPTH_MAP: o->depth_map = arg; return 0;
    case OPT_LORA_DIR: g->lora_dir = arg; return 0;
    case OPT_EMBD_DIR: g->embd_dir = arg; return 0;
    case OPT_LORA: return parse_lora(arg, o) ? usage_error("--lora takes FILE or FILE:WEIGHT (at most 16), not '%s'", arg) : 0;
    case OPT_VOCAB: o->vocab = arg; return 0;
    case OPT_MASK: o->mask = arg; return 0;
    case OPT_VAE_TILING: g->vae_tiling = flag_on(arg); return 0;
    case OPT_NO_VAE_TILING: g->vae_tiling = flag_on(arg) ? 0 : SDC_VAE_TILING_AUTO; return 0;
    case OPT_TAESD_PREVIEW_ONLY: o->taesd_preview_only = flag_on(arg); return 0;
    case OPT_KARRAS_SIGMAS: g->karras_sigmas = flag_on(arg); return 0;
    case OPT_INVERT_MASK: o->invert_mask = flag_on(arg); return 0;
    case OPT_OVERWRITE: o->overwrite = flag_on(arg); return 0;
    case OPT_QUIET: o->quiet = flag_on(arg); return 0;
    case OPT_NO_EMPHASIS: g->emphasis = !flag_on(arg); return 0;
    case 'W':
        if (parse_int(arg, 8, 16384, &g->width) || g->width % 8)
            return usage_error("--width must be a multiple of 8 between 8 and 16384, not '%s'", arg);
        o->width_given = 1;
        return 0;
    case 'H':
        if (parse_int(arg, 8, 16384, &g->height) || g->height % 8)
            return usage_error("--height must be a multiple of 8 between 8 and 16384, not '%s'", arg);
        o->height_given = 1;
        return 0;
    case 's':
        return parse_seed(arg, o) ? usage_error("--seed must be -1 or a number 0..2^64-1, not '%s'", arg) : 0;
    case 'b':
        return parse_int(arg, 1, 100000, &o->batch_count) ? usage_error("--batch-count must be 1..100000, not '%s'", arg) : 0;
    case 't':
        return parse_int(arg, 1, 1024, &o->threads) ? usage_error("--threads must be 1..1024, not '%s'", arg) : 0;
    case OPT_STEPS:
        o->steps_given = 1;
        return parse_int(arg, 1, 1000, &g->steps) ? usage_error("--steps must be 1..1000, not '%s'", arg) : 0;
    case OPT_CFG:
        o->cfg_given = 1;
        return parse_float(arg, 0, 100, &g->cfg_scale) ? usage_error("--cfg-scale must be 0..100, not '%s'", arg) : 0;
    case OPT_CLIP_SKIP:
        return parse_int(arg, 1, 12, &g->clip_skip) ? usage_error("--clip-skip must be 1..12, not '%s'", arg) : 0;
    case OPT_STRENGTH:
        o->strength_given = 1;
        return parse_float(arg, 0, 1, &g->strength) ? usage_error("--strength must be 0..1, not '%s'", arg) : 0;
    case OPT_MASK_BLUR:
        return parse_float(arg, 0, 256, &o->mask_blur) ? usage_error("--mask-blur must be 0..256, not '%s'", arg) : 0;
    case OPT_PRECISION:
        if (strcmp(arg, "fp32") && strcmp(arg, "bf16") && strcmp(arg, "int8"))
            return usage_error("--precision must be fp32, bf16 or int8, not '%s'", arg);
        o->bf16 = strcmp(arg, "bf16") == 0;
        o->int8 = strcmp(arg, "int8") == 0;
        return 0;
    case OPT_CPU:
        if (!sdc_cli_cpu_ok(arg))
            return usage_error("--cpu must be auto, scalar, avx2 or avx512, not '%s'", arg);
        o->cpu = arg;
        return 0;
    case OPT_CONV_TYPE:
        if (!conv_type_ok(arg))
            return usage_error("--conv-type must be none, auto, q8_0, q4_0, q4_1, q5_0, q5_1, "
                               "q2_K, q3_K, q4_K, q5_K or q6_K, not '%s'", arg);
        o->conv_type = strcmp(arg, "none") == 0 ? NULL : arg;
        return 0;
    case OPT_INPAINT_AREA:
        if (strcmp(arg, "whole") && strcmp(arg, "masked"))
            return usage_error("--inpaint-area must be whole or masked, not '%s'", arg);
        g->inpaint_area = strcmp(arg, "masked") == 0 ? SDC_INPAINT_MASKED : SDC_INPAINT_WHOLE;
        return 0;
    case OPT_PADDING:
        return parse_int(arg, 0, 4096, &g->inpaint_padding) ? usage_error("--padding must be 0..4096, not '%s'", arg) : 0;
    case OPT_OUTPAINT:
        return parse_borders(arg, o->outpaint) ? usage_error("--outpaint takes four borders L,T,R,B of 0..4096 pixels, not '%s'", arg) : 0;
    case OPT_OUTPAINT_FILL:
        if (strcmp(arg, "edge") && strcmp(arg, "noise"))
            return usage_error("--outpaint-fill must be edge or noise, not '%s'", arg);
        o->outpaint_noise = strcmp(arg, "noise") == 0;
        return 0;
    case OPT_HIRES: g->hires = 1; return 0;
    case OPT_HR_SCALE:
        return parse_float(arg, 1.0f, 8.0f, &g->hr_scale)
                   ? usage_error("--hr-scale must be 1..8, not '%s'", arg)
                   : 0;
    case OPT_HR_UPSCALER:
        if (strcmp(arg, "latent") == 0 || strcmp(arg, "latent-nearest") == 0 ||
            strcmp(arg, "lanczos") == 0) {
            g->hr_upscaler = arg;
            o->hr_model = NULL;
        } else
            o->hr_model = arg; /* an x4 upscaler checkpoint, loaded with the model */
        return 0;
    case OPT_HR_STEPS:
        return parse_int(arg, 0, 10000, &g->hr_steps)
                   ? usage_error("--hr-steps must be 0..10000, not '%s'", arg)
                   : 0;
    case OPT_HR_DENOISING:
        return parse_float(arg, 1e-6f, 1.0f, &g->hr_denoising)
                   ? usage_error("--hr-denoising must be in (0, 1], not '%s'", arg)
                   : 0;
    case OPT_UNET_TILE:
        return parse_int(arg, -1, 4096, &g->unet_tile) || g->unet_tile % 8
                   ? usage_error("--unet-tile takes -1, 0 or a multiple of 8, not '%s'", arg)
                   : 0;
    case OPT_PREVIEW: return sdc_cli_preview_option("preview", arg, o);
    case OPT_PREVIEW_PATH: return sdc_cli_preview_option("preview-path", arg, o);
    case OPT_PREVIEW_INTERVAL: return sdc_cli_preview_option("preview-interval", arg, o);
    case OPT_NOISE_LEVEL:
        return parse_int(arg, 0, 350, &g->noise_level) ? usage_error("--noise-level must be 0..350, not '%s'", arg) : 0;
    case OPT_ETA:
        return parse_float(arg, 0, 10, &g->eta) ? usage_error("--eta must be 0..10, not '%s'", arg) : 0;
    case OPT_FREEU:
        return parse_freeu(arg, g) ? usage_error("--freeu takes four numbers B1,B2,S1,S2, not '%s'", arg) : 0;
    case OPT_ORIGINAL_SIZE:
        return parse_pair(arg, 1, &g->original_width, &g->original_height) ? usage_error("--original-size takes W,H of 1..16384 pixels, not '%s'", arg) : 0;
    case OPT_TARGET_SIZE:
        return parse_pair(arg, 1, &g->target_width, &g->target_height) ? usage_error("--target-size takes W,H of 1..16384 pixels, not '%s'", arg) : 0;
    case OPT_CROP:
        return parse_pair(arg, 0, &g->crop_top, &g->crop_left) ? usage_error("--crop takes TOP,LEFT of 0..16384 pixels, not '%s'", arg) : 0;
    case OPT_REFINER_SWITCH:
        return parse_float(arg, 0, 1, &g->refiner_switch) ? usage_error("--refiner-switch must be 0..1, not '%s'", arg) : 0;
    case OPT_AESTHETIC:
        return parse_float(arg, 0.01f, 100, &g->aesthetic_score) ? usage_error("--aesthetic-score must be 0.01..100, not '%s'", arg) : 0;
    case OPT_NEGATIVE_AESTHETIC:
        return parse_float(arg, 0.01f, 100, &g->negative_aesthetic_score) ? usage_error("--negative-aesthetic-score must be 0.01..100, not '%s'", arg) : 0;
    case OPT_SAMPLER:
    case OPT_HR_SAMPLER:
    case OPT_SCHEDULER:
    case OPT_RECIPE:
    case OPT_RNG:
    case OPT_PREDICTION:
        return apply_choice(c, arg, o);
    case OPT_CONTROL_NET:
    case OPT_CONTROL_IMAGE:
    case OPT_CONTROL_STRENGTH:
    case OPT_CONTROL_START:
    case OPT_CONTROL_END:
    case OPT_GUESS_MODE:
    case OPT_CANNY:
    case OPT_CONTROL_PREPROCESS:
        return apply_control(c, arg, o);
    }
    return usage_error("%s", "unknown option");
}

void sdc_cli_defaults(sdc_cli_options *o)
{
    memset(o, 0, sizeof *o);
    o->gen = sdc_generate_default_params();
    o->recipe = -1; /* auto */
    o->gen.prompt = NULL; /* required: -p, or a job's "prompt" */
    o->output = "output.png";
    o->prediction = SDC_PREDICTION_AUTO;
    o->batch_count = 1;
    o->mask_blur = 4;
    o->gen.refiner_switch = 0.8f; /* AUTOMATIC1111's default */
    sdc_control d = sdc_control_default_params();
    for (int i = 0; i < SDC_CLI_MAX_CONTROLS; i++)
        o->controls[i] = (sdc_cli_control){NULL, NULL, d.strength, d.start, d.end, 0,
                                           d.preprocess, d.canny_low, d.canny_high};
}

static int check_controls(const sdc_cli_options *o)
{
    if (o->control_entries > o->control_count)
        return usage_error("%s", "--control-image and the other ControlNet flags need a "
                           "--control-net FILE");
    for (int i = 0; i < o->control_count; i++) {
        const sdc_cli_control *c = &o->controls[i];
        if (!c->image)
            return usage_error("--control-net '%s' needs a --control-image PIC", c->net);
        if (c->start > c->end)
            return usage_error("--control-start is after --control-end for '%s'", c->net);
    }
    return 0;
}

sdc_model_params sdc_cli_model_params(const sdc_cli_options *o, const char *path)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = path;
    mp.vae_path = path == o->model ? o->vae : NULL; /* --vae replaces the model's own */
    mp.taesd_path = path == o->model ? o->taesd : NULL; /* the refiner decodes nothing */
    mp.taesd_preview_only = path == o->model && o->taesd_preview_only;
    mp.vocab_path = o->vocab;
    mp.prediction = o->prediction;
    mp.threads = o->threads;
    mp.bf16 = o->bf16;
    mp.int8 = o->int8;
    mp.conv_type = o->conv_type;
    mp.cpu = o->cpu;
    return mp;
}

const struct option *sdc_cli_option_table(void) { return long_options; }

const char *sdc_cli_short_options(void) { return "m:p:n:o:W:H:s:b:t:i:vh"; }

int sdc_cli_set(sdc_cli_options *o, const char *name, const char *value)
{
    const struct option *opt = long_options;
    while (opt->name && strcmp(opt->name, name) != 0)
        opt++;
    if (!opt->name || opt->val == 'h' || opt->val == OPT_VERSION)
        return usage_error("unknown option '%s'", name);
    if (opt->has_arg == required_argument && !value)
        return usage_error("option '%s' needs a value", name);
    if (opt->has_arg == no_argument && value && strcmp(value, "true") && strcmp(value, "false"))
        return usage_error("option '%s' is a flag: true or false", name);
    return apply_option(opt->val, value, o);
}

/* The --hr-* options change nothing without --hires-fix, which is for text-to-image. */
static int check_hires(const sdc_cli_options *o)
{
    const sdc_generate_params *g = &o->gen;
    sdc_generate_params d = sdc_generate_default_params();
    int hr_set = g->hr_scale != d.hr_scale || g->hr_upscaler || o->hr_model || g->hr_steps ||
                 g->hr_denoising != d.hr_denoising || g->hr_sampler;
    if (hr_set && !g->hires)
        return usage_error("%s", "the --hr-* options need --hires-fix");
    if (g->hires && o->init_img)
        return usage_error("%s", "--hires-fix is for text-to-image, not with -i");
    return 0;
}

int sdc_cli_check(const sdc_cli_options *o)
{
    if (!o->gen.prompt)
        return usage_error("%s", "no prompt given (-p PROMPT)");
    if (o->mask && !o->init_img)
        return usage_error("%s", "--mask needs an init image (-i FILE)");
    if (o->strength_given && !o->init_img) /* else silently ignored */
        return usage_error("%s", "--strength needs an init image (-i FILE)");
    int outpaint = o->outpaint[0] || o->outpaint[1] || o->outpaint[2] || o->outpaint[3];
    if (outpaint && !o->init_img)
        return usage_error("%s", "--outpaint needs an init image (-i FILE)");
    if (o->taesd_preview_only && !o->taesd)
        return usage_error("%s", "--taesd-preview-only needs --taesd FILE");
    if (o->gen.inpaint_area == SDC_INPAINT_MASKED && !o->mask && !outpaint)
        return usage_error("%s", "--inpaint-area masked needs a mask (--mask FILE)");
    int rc = check_controls(o);
    return rc ? rc : check_hires(o);
}

static int parse_args(int argc, char **argv, sdc_cli_options *o)
{
    sdc_cli_defaults(o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":m:p:n:o:W:H:s:b:t:i:vh", long_options, NULL)) != -1) {
        if (c == 'h') {
            sdc_cli_print_help(stdout);
            return 1;
        }
        if (c == OPT_VERSION) {
            printf("sdc %s\n", SDC_VERSION);
            return 1;
        }
        if (c == '?' || c == ':') {
            const char *bad = argv[optind - 1];
            return usage_error(c == ':' ? "option '%s' needs a value" : "unknown option '%s'", bad);
        }
        int rc = apply_option(c, optarg, o);
        if (rc)
            return rc;
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    /* no -m: the built-in demo model (cmd/demo_model.h) */
    return sdc_cli_check(o);
}

int sdc_cli_parse(int argc, char **argv, sdc_cli_options *o)
{
    int rc = parse_args(argc, argv, o);
    if (rc == 2)
        fprintf(stderr, "sdc: %s\nTry 'sdc --help'.\n", sdc_last_error());
    return rc;
}
