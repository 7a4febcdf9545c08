/* SDXL ControlNets, proved without golden data of their own: nets built here from the golden
 * tiny SDXL UNet (models/tiny-sdxl), its encoder half copied (time and label embeddings,
 * input blocks, middle block), the hint encoder's last convolution zero (the hint adds
 * nothing) and every zero convolution k times the identity. Such a net's residuals are k
 * times the UNet's own skip tensors and middle output for the same input, timestep, context
 * and label (SDXL's pooled text + size / crop embedding): the net runs the UNet's encoder
 * with the label, and its residuals land where the UNet's skips are. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/controlnet.h"
#include "pipeline/control.h"
#include "tests/golden.h"
#include "tests/st_write.h"
#include "weights/checkpoint.h"
#include "weights/safetensors.h"

#define H 8 /* latent side: 64x64 pixels */
#define TOKENS 77
#define MAX_ITEMS 1024

static const char *const XL_LDM = "models/tiny-sdxl/model.safetensors";
static const char *const XL_DIFFUSERS = "models/tiny-sdxl/diffusers/unet/"
                                        "diffusion_pytorch_model.safetensors";

typedef enum layout { LAYOUT_ORIGINAL, LAYOUT_DIFFUSERS } layout;

/* The items of a net being written and the buffers they own. */
typedef struct net_items {
    st_item item[MAX_ITEMS];
    sdc_tensor tensor[MAX_ITEMS];
    char name[MAX_ITEMS][160];
    float *owned[MAX_ITEMS];
    size_t count, n_owned;
} net_items;

static void add_view(net_items *n, const char *name, const sdc_tensor *t)
{
    cr_assert_lt(n->count, MAX_ITEMS);
    snprintf(n->name[n->count], sizeof n->name[0], "%s", name);
    n->tensor[n->count] = *t;
    n->item[n->count] = (st_item){n->name[n->count], &n->tensor[n->count]};
    n->count++;
}

/* conv `prefix` [out, in, k, k] + bias: weight[o][i] = diag on the identity (k = 1), or
 * small deterministic values times `w`; bias zero. */
static void add_conv(net_items *n, const char *prefix, int out, int in, int k, float w, int diag)
{
    size_t nw = (size_t)out * in * k * k;
    float *wt = calloc(nw, sizeof *wt), *b = calloc((size_t)out, sizeof *b);
    cr_assert(wt && b);
    for (size_t i = 0; i < nw; i++)
        wt[i] = diag ? 0.0f : w * sinf(0.7f * (float)i + (float)out);
    for (int o = 0; diag && o < out; o++)
        wt[(size_t)o * in + o] = w;
    n->owned[n->n_owned++] = wt, n->owned[n->n_owned++] = b;
    char name[160];
    sdc_tensor tw = {.dtype = SDC_DTYPE_F32, .ndim = 4, .shape = {out, in, k, k}, .data = wt};
    sdc_tensor tb = {.dtype = SDC_DTYPE_F32, .ndim = 1, .shape = {out}, .data = b};
    snprintf(name, sizeof name, "%s.weight", prefix);
    add_view(n, name, &tw);
    snprintf(name, sizeof name, "%s.bias", prefix);
    add_view(n, name, &tb);
}

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* The UNet's encoder half, under the names of the layout. */
static void add_encoder(net_items *n, const sdc_safetensors *st, layout lay)
{
    static const char *const ldm[] = {"time_embed.", "label_emb.", "input_blocks.",
                                      "middle_block."};
    static const char *const dif[] = {"time_embedding.", "add_embedding.", "conv_in.",
                                      "down_blocks.", "mid_block."};
    const char *prefix = lay == LAYOUT_ORIGINAL ? "model.diffusion_model." : "";
    for (size_t i = 0; i < sdc_safetensors_count(st); i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(st, i);
        if (!starts(e->name, prefix))
            continue;
        const char *rest = e->name + strlen(prefix);
        int keep = 0;
        for (int k = 0; lay == LAYOUT_ORIGINAL && k < 4; k++)
            keep |= starts(rest, ldm[k]);
        for (int k = 0; lay == LAYOUT_DIFFUSERS && k < 5; k++)
            keep |= starts(rest, dif[k]);
        if (keep)
            add_view(n, rest, &e->tensor);
    }
}

static void hint_name(layout lay, int i, char *dst, size_t cap)
{
    if (lay == LAYOUT_ORIGINAL)
        snprintf(dst, cap, "input_hint_block.%d", 2 * i);
    else if (i == 0)
        snprintf(dst, cap, "controlnet_cond_embedding.conv_in");
    else if (i == 7)
        snprintf(dst, cap, "controlnet_cond_embedding.conv_out");
    else
        snprintf(dst, cap, "controlnet_cond_embedding.blocks.%d", i - 1);
}

/* zero convolution i of the layout's names; the last one is the middle block's */
static void zero_name(layout lay, int i, int last, char *dst, size_t cap)
{
    static const char *const names[2][2] = {{"zero_convs.%d.0", "middle_block_out.0"},
                                            {"controlnet_down_blocks.%d", "controlnet_mid_block"}};
    snprintf(dst, cap, names[lay][last], i);
}

/* Writes to `path` the net of `unet` (tiny-sdxl's, for the widths) in layout `lay` whose zero
 * convolutions are k times the identity, plus a one-value tensor named `extra` unless NULL. */
static void net_write_extra(const char *path, const sdc_unet *unet, layout lay, float k,
                            const char *extra)
{
    net_items *n = calloc(1, sizeof *n);
    cr_assert(n);
    sdc_safetensors *st = golden_open(lay == LAYOUT_ORIGINAL ? XL_LDM : XL_DIFFUSERS);
    add_encoder(n, st, lay);
    static const int hint[8] = {16, 16, 32, 32, 96, 96, 256, 0};
    int in = 3, c, sh, sw, skips = sdc_unet_skip_count(unet);
    char name[96];
    for (int i = 0; i < 8; i++) {
        sdc_unet_skip_shape(unet, 0, 1, 1, &c, &sh, &sw);
        int out = i == 7 ? c : hint[i];
        hint_name(lay, i, name, sizeof name);
        add_conv(n, name, out, in, 3, i == 7 ? 0.0f : 0.05f, 0); /* the last one zero */
        in = out;
    }
    for (int i = 0; i <= skips; i++) {
        if (i < skips)
            sdc_unet_skip_shape(unet, i, 1, 1, &c, &sh, &sw);
        else
            c = sdc_unet_mid_channels(unet);
        zero_name(lay, i, i == skips, name, sizeof name);
        add_conv(n, name, c, c, 1, k, 1);
    }
    static const float one = 1.0f;
    sdc_tensor t = {.dtype = SDC_DTYPE_F32, .ndim = 1, .shape = {1}, .data = &one};
    if (extra)
        add_view(n, extra, &t);
    st_write(path, n->item, n->count);
    for (size_t i = 0; i < n->n_owned; i++)
        free(n->owned[i]);
    free(n);
    sdc_safetensors_close(st);
}

static void net_write(const char *path, const sdc_unet *unet, layout lay, float k)
{
    net_write_extra(path, unet, lay, k, NULL);
}

/* ---- fixtures: the base UNet, an input, paths of written nets ----------------------------- */

typedef struct xl_base {
    sdc_checkpoint *ck;
    sdc_unet *unet;
    float *x, *ctx, *label, *picture; /* [B, 4, H, H], [B, 77, D], [B, L], [3, 8H, 8H] */
    int B;
} xl_base;

static float wave(size_t i, float f) { return sinf(f * (float)i + 0.3f); }

static void base_open(xl_base *b, int B)
{
    memset(b, 0, sizeof *b);
    cr_assert_eq(sdc_checkpoint_open(golden_path(XL_LDM), &b->ck), SDC_OK);
    cr_assert_eq(sdc_unet_load(b->ck, &b->unet), SDC_OK, "%s", sdc_last_error());
    b->B = B;
    size_t nx = (size_t)B * 4 * H * H, nc = (size_t)B * TOKENS * sdc_unet_context_dim(b->unet);
    size_t nl = (size_t)B * sdc_unet_label_dim(b->unet), np = 3 * 64 * 64;
    b->x = malloc(nx * sizeof *b->x), b->ctx = malloc(nc * sizeof *b->ctx);
    b->label = malloc(nl * sizeof *b->label), b->picture = malloc(np * sizeof *b->picture);
    cr_assert(b->x && b->ctx && b->label && b->picture);
    for (size_t i = 0; i < nx; i++)
        b->x[i] = wave(i, 0.37f);
    for (size_t i = 0; i < nc; i++)
        b->ctx[i] = 0.5f * wave(i, 0.011f);
    for (size_t i = 0; i < nl; i++)
        b->label[i] = wave(i, 1.3f);
    for (size_t i = 0; i < np; i++)
        b->picture[i] = (float)(i % 251) / 250.0f;
}

static void base_close(xl_base *b)
{
    free(b->x), free(b->ctx), free(b->label), free(b->picture);
    sdc_unet_free(b->unet);
    sdc_checkpoint_close(b->ck);
}

static sdc_unet_cond base_cond(const xl_base *b)
{
    return (sdc_unet_cond){.context = b->ctx, .tokens = TOKENS, .label = b->label};
}

/* The UNet's own skip tensors and middle output for the base input, copied: [n_res]. */
static float **unet_features(xl_base *b, float t, size_t *row)
{
    int n = sdc_unet_skip_count(b->unet) + 1, c, sh, sw;
    const float *skips[SDC_UNET_MAX_RESIDUALS], *mid;
    sdc_unet_cond cond = base_cond(b);
    cr_assert_eq(sdc_unet_encode(b->unet, b->x, b->B, H, H, t, &cond, NULL, skips, &mid), SDC_OK,
                 "%s", sdc_last_error());
    float **f = calloc((size_t)n, sizeof *f);
    for (int i = 0; i < n; i++) {
        sdc_unet_skip_shape(b->unet, i < n - 1 ? i : n - 2, H, H, &c, &sh, &sw);
        if (i == n - 1)
            c = sdc_unet_mid_channels(b->unet);
        row[i] = (size_t)c * sh * sw;
        f[i] = malloc((size_t)b->B * row[i] * sizeof(float));
        memcpy(f[i], i < n - 1 ? skips[i] : mid, (size_t)b->B * row[i] * sizeof(float));
    }
    return f;
}

static void features_free(float **f, int n)
{
    for (int i = 0; i < n; i++)
        free(f[i]);
    free(f);
}

static char *tmp_path(const char *name)
{
    static char path[8][256];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof path[0], "/tmp/sdc-cnxl-%d-%s", (int)getpid(), name);
    return p;
}

/* max |a - b| over n, relative to 1 + max |b|: float rounding is ~1e-7 of it */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double big = 0.0;
    for (size_t i = 0; i < n; i++)
        big = fmax(big, fabs(b[i]));
    return max_abs_diff(a, b, n) / (1.0 + big);
}

/* ---- the net against the UNet ------------------------------------------------------------- */

/* The net at `path`, identity zero convolutions: residual i == the UNet's skip i (and the
 * middle output) for the same x, t, context and label. */
static void expect_identity_net(xl_base *b, const char *path)
{
    sdc_controlnet *cn;
    cr_assert_eq(sdc_controlnet_load(path, &cn), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_controlnet_check(cn, b->unet, H, H), SDC_OK, "%s", sdc_last_error());
    int n = sdc_unet_skip_count(b->unet) + 1, c0, sh, sw;
    sdc_unet_skip_shape(b->unet, 0, H, H, &c0, &sh, &sw);
    float *hint = malloc((size_t)c0 * H * H * sizeof *hint);
    cr_assert_eq(sdc_controlnet_hint(cn, b->picture, H, H, hint), SDC_OK, "%s",
                 sdc_last_error());
    for (int i = 0; i < c0 * H * H; i++)
        cr_assert_eq(hint[i], 0.0f, "the zero last hint convolution gave %g", hint[i]);
    size_t row[SDC_UNET_MAX_RESIDUALS];
    float **want = unet_features(b, 621.0f, row), *res[SDC_UNET_MAX_RESIDUALS];
    float scale[SDC_UNET_MAX_RESIDUALS];
    for (int i = 0; i < n; i++) {
        res[i] = calloc((size_t)b->B * row[i], sizeof(float));
        scale[i] = 1.0f;
    }
    sdc_unet_cond cond = base_cond(b);
    cr_assert_eq(sdc_controlnet_forward(cn, b->x, b->B, H, H, 621.0f, &cond, hint, scale, res),
                 SDC_OK, "%s", sdc_last_error());
    for (int i = 0; i < n; i++) {
        cr_expect_leq(rel_diff(res[i], want[i], (size_t)b->B * row[i]), 1e-6,
                      "%s: residual %d of %d is not the UNet's own", path, i, n);
        free(res[i]);
    }
    features_free(want, n);
    free(hint);
    sdc_controlnet_free(cn);
}

Test(controlnet_sdxl, original_layout_residuals_are_the_unets_skips)
{
    xl_base b;
    base_open(&b, 2);
    const char *path = tmp_path("ldm.safetensors");
    net_write(path, b.unet, LAYOUT_ORIGINAL, 1.0f);
    expect_identity_net(&b, path);
    unlink(path);
    base_close(&b);
}

Test(controlnet_sdxl, diffusers_weights_file_residuals_are_the_unets_skips)
{
    xl_base b;
    base_open(&b, 1);
    const char *path = tmp_path("diffusers.safetensors");
    net_write(path, b.unet, LAYOUT_DIFFUSERS, 1.0f);
    expect_identity_net(&b, path);
    unlink(path);
    base_close(&b);
}

/* diffusers' ControlNetModel folder of an SDXL net (config.json as diffusers writes it for
 * controlnet-canny-sdxl-1.0, at tiny-sdxl's sizes). */
Test(controlnet_sdxl, diffusers_folder_residuals_are_the_unets_skips)
{
    xl_base b;
    base_open(&b, 1);
    char *dir = tmp_path("folder"), weights[300], config[300];
    cr_assert_eq(mkdir(dir, 0700), 0);
    snprintf(weights, sizeof weights, "%s/diffusion_pytorch_model.safetensors", dir);
    snprintf(config, sizeof config, "%s/config.json", dir);
    net_write(weights, b.unet, LAYOUT_DIFFUSERS, 1.0f);
    FILE *f = fopen(config, "w");
    cr_assert(f);
    fputs("{\"_class_name\": \"ControlNetModel\", \"addition_embed_type\": \"text_time\", "
          "\"addition_time_embed_dim\": 16, \"attention_head_dim\": [1, 1, 2], "
          "\"block_out_channels\": [32, 64, 128], \"cross_attention_dim\": 192, "
          "\"conditioning_embedding_out_channels\": [16, 32, 96, 256], "
          "\"projection_class_embeddings_input_dim\": 224, "
          "\"transformer_layers_per_block\": [1, 2, 3], \"use_linear_projection\": true}\n", f);
    fclose(f);
    expect_identity_net(&b, dir);
    unlink(weights), unlink(config), rmdir(dir);
    base_close(&b);
}

/* An SDXL net fits SDXL models only, an SD 1.x net SD 1.x / 2.x ones: one line naming the
 * net's file and the mismatch. */
Test(controlnet_sdxl, fits_sdxl_models_only)
{
    xl_base b;
    base_open(&b, 1);
    const char *path = tmp_path("fit.safetensors");
    net_write(path, b.unet, LAYOUT_ORIGINAL, 1.0f);
    sdc_controlnet *xl, *sd1;
    cr_assert_eq(sdc_controlnet_load(path, &xl), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_controlnet_load(golden_path("controlnet/models/control_tiny_edges."
                                                 "safetensors"), &sd1), SDC_OK);
    sdc_checkpoint *ck;
    sdc_unet *u1;
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sd1/model.safetensors"), &ck),
                 SDC_OK);
    cr_assert_eq(sdc_unet_load(ck, &u1), SDC_OK);
    cr_expect_eq(sdc_controlnet_check(xl, u1, H, H), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), path) && strstr(sdc_last_error(), "an SDXL ControlNet") &&
              !strchr(sdc_last_error(), '\n'), "%s", sdc_last_error());
    cr_expect_eq(sdc_controlnet_check(sd1, b.unet, H, H), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "control_tiny_edges") &&
              strstr(sdc_last_error(), "not an SDXL ControlNet"), "%s", sdc_last_error());
    cr_expect_eq(sdc_controlnet_check(xl, b.unet, H, H), SDC_OK, "%s", sdc_last_error());
    sdc_unet_free(u1);
    sdc_checkpoint_close(ck);
    sdc_controlnet_free(xl);
    sdc_controlnet_free(sd1);
    unlink(path);
    base_close(&b);
}

/* Control-LoRAs and ControlNet++ union nets carry a ControlNet's names too, and more: refused
 * by the tensor that tells them, in one line naming the file, rather than run as a plain net. */
Test(controlnet_sdxl, control_loras_and_union_nets_are_refused)
{
    xl_base b;
    base_open(&b, 1);
    const char *path = tmp_path("foreign.safetensors");
    const struct {
        layout lay;
        const char *extra, *what;
    } cases[] = {
        {LAYOUT_ORIGINAL, "lora_controlnet", "Control-LoRA"},
        {LAYOUT_ORIGINAL, "control_model.lora_controlnet", "Control-LoRA"},
        {LAYOUT_DIFFUSERS, "task_embedding", "union"},
        {LAYOUT_DIFFUSERS, "control_add_embedding.linear_1.weight", "union"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        net_write_extra(path, b.unet, cases[i].lay, 1.0f, cases[i].extra);
        sdc_controlnet *cn = NULL;
        cr_expect_eq(sdc_controlnet_load(path, &cn), SDC_ERR_UNSUPPORTED, "%s", cases[i].extra);
        cr_expect_null(cn);
        cr_expect(strstr(sdc_last_error(), path) && strstr(sdc_last_error(), cases[i].what) &&
                  !strchr(sdc_last_error(), '\n'), "%s", sdc_last_error());
        sdc_controlnet_free(cn);
    }
    unlink(path);
    base_close(&b);
}

/* ---- in the pipeline: strength, window, guess mode, the picture -------------------------- */

static uint8_t *gray_picture(int side)
{
    uint8_t *rgb = malloc((size_t)side * side * 3);
    cr_assert(rgb);
    for (int i = 0; i < side * side * 3; i++)
        rgb[i] = (uint8_t)(i * 37 % 256);
    return rgb;
}

static sdc_control control_of(const char *path, const uint8_t *rgb, int side)
{
    sdc_control c = sdc_control_default_params();
    c.path = path, c.rgb = rgb, c.width = c.height = side;
    return c;
}

/* With guidance (rows: the prompt's, then the negative) the net gets the same label rows as
 * the UNet: its residuals are strength x the UNet's skips inside the window, none outside;
 * guessing, the prompt's row alone, residual i scaled by 10^(-1 + i / 9) (10 residuals). */
Test(controlnet_sdxl, strength_window_and_guess_mode_in_the_pipeline)
{
    xl_base b;
    base_open(&b, 2);
    const char *path = tmp_path("pipe.safetensors");
    net_write(path, b.unet, LAYOUT_ORIGINAL, 1.0f);
    uint8_t *rgb = gray_picture(64);
    sdc_control c = control_of(path, rgb, 64);
    c.strength = 0.5f, c.start = 0.0f, c.end = 0.6f;
    sdc_generate_params p = sdc_generate_default_params();
    p.width = p.height = 64, p.controls = &c, p.control_count = 1;
    int n = sdc_unet_skip_count(b.unet) + 1;
    cr_assert_eq(n, 10);
    size_t row[SDC_UNET_MAX_RESIDUALS];
    float **want = unet_features(&b, 400.0f, row);
    sdc_unet_cond cond = base_cond(&b);
    for (int guess = 0; guess < 2; guess++) {
        c.guess_mode = guess;
        sdc_pipeline_control pc;
        cr_assert_eq(sdc_pipeline_control_prepare(&p, b.unet, H, H, 2, 1, &pc), SDC_OK, "%s",
                     sdc_last_error());
        const float *const *res;
        for (int call = 0; call < 5; call++) {
            cr_assert_eq(sdc_pipeline_control_residuals(&pc, b.x, 400.0f, &cond, call, 5, &res),
                         SDC_OK, "%s", sdc_last_error());
            cr_expect_eq(res != NULL, call < 3, "call %d of 5 in the window 0..0.6", call);
        }
        cr_assert_eq(sdc_pipeline_control_residuals(&pc, b.x, 400.0f, &cond, 0, 5, &res),
                     SDC_OK);
        for (int i = 0; i < n; i++) {
            double s = 0.5 * (guess ? pow(10.0, -1.0 + i / 9.0) : 1.0);
            float *w = malloc(2 * row[i] * sizeof *w);
            for (size_t k = 0; k < 2 * row[i]; k++)
                w[k] = guess && k >= row[i] ? 0.0f : (float)(s * want[i][k]);
            cr_expect_leq(rel_diff(res[i], w, 2 * row[i]), 1e-6, "residual %d, guess %d", i,
                          guess);
            free(w);
        }
        sdc_pipeline_control_free(&pc);
    }
    features_free(want, n);
    free(rgb);
    unlink(path);
    base_close(&b);
}

/* Whole pictures from tiny-sdxl: a net whose zero convolutions are zero (what training starts
 * from), or strength 0, leaves the picture bit for bit as without a net; the identity net
 * changes it, and less of it through a window of the later steps. */
Test(controlnet_sdxl, pictures_with_and_without_a_net)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = golden_path(XL_LDM);
    mp.vocab_path = vocab_path();
    sdc_model *m;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    xl_base b;
    base_open(&b, 1);
    const char *zero = tmp_path("zero.safetensors"), *ident = tmp_path("ident.safetensors");
    net_write(zero, b.unet, LAYOUT_ORIGINAL, 0.0f);
    net_write(ident, b.unet, LAYOUT_DIFFUSERS, 1.0f);
    uint8_t *rgb = gray_picture(48); /* stretched to 64x64 */
    sdc_control c = control_of(zero, rgb, 48);
    sdc_generate_params p = sdc_generate_default_params();
    p.prompt = "a red cube", p.negative_prompt = "blur";
    p.width = p.height = 64, p.steps = 4, p.seed = 7;
    enum { N = 64 * 64 * 3 };
    uint8_t *none = malloc(N), *got = malloc(N), *full = malloc(N);
    cr_assert_eq(sdc_generate(m, &p, none), SDC_OK, "%s", sdc_last_error());
    p.controls = &c, p.control_count = 1;
    cr_assert_eq(sdc_generate(m, &p, got), SDC_OK, "%s", sdc_last_error());
    cr_expect_arr_eq(got, none, N, "a net with zero zero-convolutions changed the picture");
    c.path = ident;
    cr_assert_eq(sdc_generate(m, &p, full), SDC_OK, "%s", sdc_last_error());
    cr_expect(memcmp(full, none, N) != 0, "the identity net changed nothing");
    c.strength = 0.0f;
    cr_assert_eq(sdc_generate(m, &p, got), SDC_OK, "%s", sdc_last_error());
    cr_expect_arr_eq(got, none, N, "strength 0 changed the picture");
    c.strength = 1.0f, c.start = 0.5f;
    cr_assert_eq(sdc_generate(m, &p, got), SDC_OK, "%s", sdc_last_error());
    cr_expect(memcmp(got, none, N) != 0 && memcmp(got, full, N) != 0,
              "the window 0.5..1 is neither no net nor the whole loop");
    free(none), free(got), free(full), free(rgb);
    unlink(zero), unlink(ident);
    base_close(&b);
    sdc_model_free(m);
}
