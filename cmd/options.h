/* Command-line options of `sdc` (generation mode), parsed and validated. Names follow
 * stable-diffusion.cpp so its users feel at home. */
#ifndef SDC_CMD_OPTIONS_H
#define SDC_CMD_OPTIONS_H

#include <getopt.h>
#include <stdio.h>

#include "sdc.h"

#define SDC_CLI_MAX_LORAS 16
#define SDC_CLI_MAX_CONTROLS 8

/* One --control-net with the flags that follow it. */
typedef struct sdc_cli_control {
    const char *net;   /* --control-net FILE */
    const char *image; /* --control-image PIC */
    float strength, start, end;
    int guess_mode;
    sdc_control_preprocess preprocess;
    int canny_low, canny_high;
} sdc_cli_control;

typedef struct sdc_cli_options {
    const char *model;
    const char *vae;
    const char *taesd;   /* --taesd FILE: the tiny VAE decodes (and encodes) */
    int taesd_preview_only; /* --taesd-preview-only: it only shows previews */
    const char *vocab;
    const char *refiner; /* --refiner FILE (its switch is gen.refiner_switch) */
    const char *depth_map; /* --depth-map FILE */
    const char *hr_model;  /* --hr-upscaler FILE: an x4 upscaler model for the hires fix */
    const char *output;
    const char *init_img;
    const char *mask;
    sdc_prediction_override prediction;
    int threads;
    int bf16;            /* --precision bf16 */
    int int8;            /* --precision int8 */
    const char *conv_type; /* --conv-type T, NULL for none */
    const char *cpu;       /* --cpu ISA, NULL for auto */
    int batch_count;
    int seed_random;     /* -s -1 */
    int overwrite;
    int quiet;
    int verbose;
    int invert_mask;
    float mask_blur;
    int outpaint[4];     /* --outpaint L,T,R,B */
    int outpaint_noise;  /* --outpaint-fill noise */
    int width_given, height_given;
    int strength_given;  /* --strength: an error without an init image */
    /* the settings a recipe may set, when given (the given ones win over the recipe's) */
    int steps_given, cfg_given, sampler_given, scheduler_given;
    int recipe;          /* --recipe: an sdc_recipe, or -1 for auto (the model's) */
    int lora_count;      /* --lora FILE[:W], in order */
    char lora_paths[SDC_CLI_MAX_LORAS][1024];
    float lora_weights[SDC_CLI_MAX_LORAS];
    /* ControlNets: entry i holds the i-th --control-net and the per-net flags given after it
     * (those given before any --control-net belong to the first) */
    int control_count;   /* --control-net flags given */
    int control_entries; /* entries touched by any ControlNet flag */
    sdc_cli_control controls[SDC_CLI_MAX_CONTROLS];
    const char *preview_path; /* --preview-path FILE, or NULL */
    int preview_given;        /* --preview M (else --preview-path alone means proj) */
    sdc_generate_params gen;
} sdc_cli_options;

/* g's LoRA list = o's --lora files, written into `files` (which must outlive g's use). */
void sdc_cli_loras(const sdc_cli_options *o, sdc_lora_file files[SDC_CLI_MAX_LORAS],
                   sdc_generate_params *g);

/* g's ControlNets = o's, with pictures[i] the loaded --control-image of net i, written into
 * `files` (which, like the pictures, must outlive g's use). */
struct sdc_image;
void sdc_cli_controls(const sdc_cli_options *o, const struct sdc_image *pictures,
                      sdc_control files[SDC_CLI_MAX_CONTROLS], sdc_generate_params *g);

/* Parses argv (after the program name / subcommand). Returns 0 on success, 1 when --help or
 * --version was handled (exit 0), 2 on a usage error (message already printed). */
int sdc_cli_parse(int argc, char **argv, sdc_cli_options *opt);
void sdc_cli_print_help(FILE *out);

/* The pieces sdc_cli_parse is made of, for other parsers (sdc batch: its command line and
 * job files). sdc_cli_set applies one option by its long name ("cfg-scale"); value is NULL,
 * "true" or "false" for flags. Returns 0, or 2 with the message in sdc_last_error(). */
void sdc_cli_defaults(sdc_cli_options *opt);
int sdc_cli_set(sdc_cli_options *opt, const char *name, const char *value);
/* The checks of a whole option set (a prompt, an init image for --mask ...): 0, or 2 with the
 * message in sdc_last_error(). */
int sdc_cli_check(const sdc_cli_options *opt);
/* --preview none|proj|tae|vae, --preview-path FILE and --preview-interval N by long name
 * (cmd/options_preview.c): 0, or 2 with the message recorded. tae passes here; the library
 * refuses it without a TAESD decoder. */
int sdc_cli_preview_option(const char *name, const char *arg, sdc_cli_options *opt);
/* Whether `arg` names a --cpu level: auto, scalar, avx2 or avx512. */
int sdc_cli_cpu_ok(const char *arg);
/* What --preview and --preview-path mean together: the path alone turns on tae with --taesd,
 * else proj; a mode without a path writes preview.png. Call once the options are all set. */
void sdc_cli_preview_resolve(sdc_cli_options *opt);
const struct option *sdc_cli_option_table(void); /* getopt_long table, zero entry last */
/* The model parameters the options give for `path` (the model, or the refiner). */
sdc_model_params sdc_cli_model_params(const sdc_cli_options *opt, const char *path);
const char *sdc_cli_short_options(void);         /* getopt short options, e.g. "m:p:" */

#endif
