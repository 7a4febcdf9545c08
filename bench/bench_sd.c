/* bench_sd: speed and memory of each Stable Diffusion stage at real model sizes.
 *
 *   bench_sd [--model FILE] [--size PX] [--batch B] [--runs N] [--threads T]
 *            [--cpu scalar|avx2|avx512] [--stages text,unet,vae,taesd,micro]
 *            [--vae-tiling] [--vae-tile CELLS] [--taesd FILE]
 *            [--precision fp32|bf16|int8] [--conv auto|implicit|winograd] [--peak GFLOPS]
 *            [--int8-kernel scalar|avx2|avx-vnni|avx512-vnni]  (caps the int8 GEMM's path, as
 *                            --cpu caps the others: forces the AVX2 kernel on a VNNI CPU)
 *            [--wino-bf16]  (Winograd's transform-domain products in bf16 too; with
 *                            --precision bf16 the vae stage also prints its PSNR against fp32)
 *            [--no-packed]  (bf16: the unet and micro stages pack their weights in every
 *                            call, as sdc does for fewer than 10 calls; by default the cold
 *                            call packs them once, as in a longer sampling loop)
 *   bench_sd --smoke      (seconds: the golden tiny model, else the demo model; for CI)
 *   bench_sd --stages psnr [--steps N] [--vocab FILE]
 *            (bf16 and Winograd against fp32 with implicit GEMM, whole txt2img; with
 *            --precision int8: int8 linear layers against fp32)
 *
 * With --precision bf16 (or int8) the unet stage, and with bf16 the vae stage, run again
 * at fp32 in the same process and print "bf16 / fp32" with the wall and CPU ratios. With
 * SDC_PROFILE=1 in the environment each stage also prints where its warm calls went, by
 * kind of kernel (ops/profile.h; run with OMP_WAIT_POLICY=passive for honest busy figures).
 *
 * For each stage: the first (cold) call, one untimed call, the median of N more, GFLOP/s from the FLOPs the
 * checkpoint's shapes imply (bench/flops.h), the share of the measured peak (fp32 FMA, or
 * bf16 dot products with --precision bf16; with --precision int8 the fp32 peak, as only the
 * linear layers run in int8)
 * (ops/cpu.h), and the peak resident memory during the stage (anonymous = activations and
 * copies; file = mapped checkpoint pages). The taesd stage decodes with the TAESD of --taesd
 * (default /tmp/fullsize/taesd-f16.safetensors). Full-size checkpoints with random weights come
 * from make-random-checkpoint (docs/PERFORMANCE.md). */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/flops.h"
#include "bench/measure.h"
#include "bench/micro.h"
#include "bench/psnr.h"
#include "clip/text_encoder.h"
#include "ops/cpu.h"
#include "ops/gemm_q8.h"
#include "ops/pack_cache.h"
#include "ops/profile.h"
#include "ops/winograd.h"
#include "unet/unet.h"
#include "vae/taesd.h"
#include "vae/tile_plan.h"
#include "vae/vae.h"
#include "weights/packed_weights.h"

typedef struct options {
    const char *model;
    const char *taesd; /* the taesd stage's file */
    int size, batch, runs, threads, smoke, tiling, tile, steps;
    const char *vocab;
    int cpu;     /* -1: as detected */
    int precision;
    int conv; /* sdc_conv_algo */
    double peak; /* 0: measure */
    char stages[64];
    int wino_bf16; /* sdc_winograd_bf16_set */
    int packed;    /* bf16: the UNet's weights packed once (weights/packed_weights.h) */
    int int8_kernel; /* sdc_q8_set_max_path; -1: the best the CPU has */
} options;

typedef struct models {
    sdc_checkpoint *ck;
    sdc_text_encoder *te;  /* or NULL (SDXL refiner) */
    sdc_text_encoder *te2; /* SDXL's second text encoder, or NULL */
    sdc_unet *unet;
    sdc_vae *vae;
} models;

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_sd [--model FILE] [--size PX] [--batch B] [--runs N] [--threads T]\n"
            "                [--cpu scalar|avx2|avx512] [--stages text,unet,vae,taesd,micro]\n"
            "                [--vae-tiling] [--vae-tile CELLS] [--precision fp32|bf16|int8]\n"
            "                [--wino-bf16] (Winograd's products in bf16 too)\n"
            "                [--no-packed] (bf16: weights packed in every call)\n"
            "                [--taesd FILE]\n"
            "                [--conv auto|implicit|winograd] [--peak GFLOPS] [--smoke]\n"
            "                [--int8-kernel scalar|avx2|avx-vnni|avx512-vnni] (the best\n"
            "                 one at or below it; default: the CPU's best)\n"
            "       bench_sd --stages psnr [--model FILE] [--size PX] [--steps N] [--vocab FILE]\n");
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){"/tmp/fullsize/sd15-f16.safetensors", "/tmp/fullsize/taesd-f16.safetensors", 512, 2, 3, 0, 0, 0, 64, 4, NULL, -1,
                   SDC_PRECISION_FP32, SDC_CONV_AUTO, 0, "text,unet,vae,micro", 0, 1, -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "--smoke") == 0)
            o->smoke = 1, takes = 0;
        else if (strcmp(a, "--vae-tiling") == 0)
            o->tiling = 1, takes = 0;
        else if (strcmp(a, "--wino-bf16") == 0)
            o->wino_bf16 = 1, takes = 0;
        else if (strcmp(a, "--no-packed") == 0)
            o->packed = 0, takes = 0;
        else if (!v)
            return -1;
        else if (strcmp(a, "--model") == 0)
            o->model = v;
        else if (strcmp(a, "--taesd") == 0)
            o->taesd = v;
        else if (strcmp(a, "--size") == 0)
            o->size = atoi(v);
        else if (strcmp(a, "--batch") == 0)
            o->batch = atoi(v);
        else if (strcmp(a, "--runs") == 0)
            o->runs = atoi(v);
        else if (strcmp(a, "--threads") == 0)
            o->threads = atoi(v);
        else if (strcmp(a, "--cpu") == 0) {
            int level = sdc_cpu_level_from_name(v);
            o->cpu = level < 0 ? -2 : level; /* (-1 means: as detected) */
        }
        else if (strcmp(a, "--vae-tile") == 0)
            o->tile = atoi(v);
        else if (strcmp(a, "--steps") == 0)
            o->steps = atoi(v);
        else if (strcmp(a, "--vocab") == 0)
            o->vocab = v;
        else if (strcmp(a, "--precision") == 0)
            o->precision = sdc_precision_from_name(v);
        else if (strcmp(a, "--conv") == 0)
            o->conv = sdc_conv_algo_from_name(v);
        else if (strcmp(a, "--peak") == 0)
            o->peak = atof(v);
        else if (strcmp(a, "--int8-kernel") == 0)
            o->int8_kernel = sdc_q8_path_from_name(v) < 0 ? -2 : sdc_q8_path_from_name(v);
        else if (strcmp(a, "--stages") == 0)
            snprintf(o->stages, sizeof o->stages, "%s", v);
        else
            return -1;
        i += takes;
    }
    if (o->smoke) {
        /* the golden tiny model; a clone without ../shared/golden has the demo model */
        static char tiny[4096];
        const char *g = getenv("SDC_GOLDEN"), *src = getenv("SDC_SOURCE_DIR");
        snprintf(tiny, sizeof tiny, "%s/models/tiny-sd1/model.safetensors",
                 g ? g : "../shared/golden");
        if (access(tiny, R_OK) != 0)
            snprintf(tiny, sizeof tiny, "%s/models/demo/model.safetensors", src ? src : ".");
        o->model = tiny;
        static char taesd[4096];
        snprintf(taesd, sizeof taesd, "%s/taesd/tiny-taesd/diffusion_pytorch_model.safetensors",
                 g ? g : "../shared/golden");
        o->taesd = taesd;
        if (access(taesd, R_OK) == 0 && !strstr(o->stages, "taesd") &&
            strlen(o->stages) + sizeof ",taesd" <= sizeof o->stages)
            strcat(o->stages, ",taesd");
        o->size = 128;
        o->runs = 1;
    }
    return o->size >= 8 && o->size % 8 == 0 && o->batch >= 1 && o->runs >= 1 &&
                   o->cpu >= -1 && o->int8_kernel >= -1 && o->precision >= 0 && o->conv >= 0 && o->tile >= 2
               ? 0
               : -1;
}

static int wants(const options *o, const char *stage)
{
    return strstr(o->stages, stage) != NULL;
}

static float *random_floats(size_t n, unsigned seed, float scale)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = ((float)((seed >> 9) & 0xffff) / 32768.0f - 1.0f) * scale;
    }
    return p;
}

/* One stage's figures. */
typedef struct result {
    double first, median, cpu, flops; /* cpu: CPU seconds of the median call */
    sdc_bench_mem mem;
} result;

static double peak_gflops = 1;
static int threads_used = 1;
static double whole_peak_mib;

/* "% peak": wall-clock GFLOP/s over the peak of all threads. "% cpu": FLOP per CPU-second
 * over one core's peak, i.e. the efficiency of the cycles the process got (equal to % peak
 * when nothing else runs; higher when other processes take time slices). */
static void print_header(void)
{
    printf("\n%-26s %8s %9s %8s %8s %9s %7s %7s %9s %8s %8s\n", "stage", "first s",
           "median s", "cpu s", "GFLOP", "GFLOP/s", "% peak", "% cpu", "peak MiB", "anon MiB",
           "file MiB");
}

static void print_result(const char *name, const result *r)
{
    double gflops = r->flops / r->median * 1e-9, per_cpu = r->flops / r->cpu * 1e-9;
    printf("%-26s %8.3f %9.3f %8.2f %8.1f %9.1f %6.1f%% %6.1f%% %9.0f %8.0f %8.0f\n", name,
           r->first, r->median, r->cpu, r->flops * 1e-9, gflops, 100 * gflops / peak_gflops,
           100 * per_cpu / (peak_gflops / threads_used), r->mem.peak, r->mem.anon, r->mem.file);
    if (r->mem.peak > whole_peak_mib)
        whole_peak_mib = r->mem.peak;
}

/* r against the fp32 figures r32 of the same stage in the same process. */
static void print_ratio(const char *precision, const char *stage, const result *r,
                        const result *r32)
{
    printf("%s / fp32, %s: wall %.3f / %.3f s = %.2fx, cpu %.2f / %.2f s = %.2fx\n", precision,
           stage, r->median, r32->median, r->median / r32->median, r->cpu, r32->cpu,
           r->cpu / r32->cpu);
}

/* Calls fn(ctx) once cold and `runs` times more; fills times and memory. */
typedef sdc_status (*stage_fn)(void *ctx);

static sdc_status time_stage(stage_fn fn, void *ctx, int runs, result *r)
{
    sdc_bench_reset_peak();
    double t[64], cpu[64], t0 = sdc_bench_now();
    sdc_status s = fn(ctx);
    r->first = sdc_bench_now() - t0;
    int n = runs < 64 ? runs : 64;
    /* One untimed call more: the first call's arena grows block by block and the next call
     * consolidates it into one new block whose pages that call faults in (~1 GiB for a VAE
     * decode), which no later call pays. */
    if (n > 0 && s == SDC_OK)
        s = fn(ctx);
    sdc_profile_reset();
    for (int i = 0; i < n && s == SDC_OK; i++) {
        double c0 = sdc_bench_cpu_now();
        t0 = sdc_bench_now();
        s = fn(ctx);
        t[i] = sdc_bench_now() - t0;
        cpu[i] = sdc_bench_cpu_now() - c0;
    }
    r->median = sdc_bench_median(t, n);
    r->cpu = sdc_bench_median(cpu, n);
    r->mem = sdc_bench_memory();
    if (s == SDC_OK && sdc_profile_enabled() && n > 0) {
        double sum = 0;
        for (int i = 0; i < n; i++)
            sum += t[i];
        printf("SDC_PROFILE, %s precision, per warm call (mean of %d):\n",
               sdc_precision_name(sdc_precision_get()), n);
        sdc_profile_print(stdout, n, sum / n, threads_used);
    }
    if (s != SDC_OK)
        fprintf(stderr, "bench_sd: %s\n", sdc_last_error());
    return s;
}

typedef struct text_ctx {
    sdc_text_encoder *te;
    int32_t *ids;
    int B, T;
    sdc_text_request req;
} text_ctx;

static sdc_status text_call(void *p)
{
    text_ctx *c = p;
    return sdc_text_encoder_forward(c->te, c->ids, c->B, c->T, &c->req, 1);
}

typedef struct unet_ctx {
    sdc_unet *u;
    float *x, *context, *out;
    int B, h, w, T;
    float *label; /* [B, label_dim] (SDXL), else NULL */
} unet_ctx;

static sdc_status unet_call(void *p)
{
    unet_ctx *c = p;
    sdc_unet_cond cond = {.context = c->context, .tokens = c->T, .label = c->label};
    return sdc_unet_forward(c->u, c->x, c->B, c->h, c->w, 500.0f, &cond, c->out);
}

typedef struct vae_ctx {
    sdc_vae *v;
    float *latent, *image;
    int h, w, tiled;
} vae_ctx;

static sdc_status vae_call(void *p)
{
    vae_ctx *c = p;
    return sdc_vae_decode(c->v, c->latent, 1, c->h, c->w, c->image, c->tiled);
}

/* Text encoder `te` (checkpoint component `comp`) on B prompts of 77 tokens; the
 * conditioning goes to *context. */
static int bench_text(const options *o, models *m, sdc_text_encoder *te, sdc_component comp,
                      float **context)
{
    int B = o->batch, T = sdc_text_encoder_positions(te), W = sdc_text_encoder_width(te);
    text_ctx c = {te, malloc(sizeof(int32_t) * B * T), B, T, {0, 1, NULL, NULL}};
    *context = malloc(sizeof(float) * B * T * W);
    if (!c.ids || !*context) {
        free(c.ids);
        return -1;
    }
    /* BOS, words, EOS, padding; CLIP's BOS / EOS are the last two ids (49406, 49407), also
     * in the demo model's small vocabulary */
    int V = sdc_text_encoder_vocab(te), bos = V - 2, eos = V - 1;
    for (int i = 0; i < B * T; i++)
        c.ids[i] = i % T == 0 ? bos : i % T < 12 ? (320 + 37 * (i % T)) % bos : eos;
    c.req.layer = sdc_text_encoder_cond_layers(te);
    c.req.hidden = *context;
    result r;
    r.flops = sdc_bench_text_flops(m->ck, comp, B, T, c.req.layer);
    sdc_status s = time_stage(text_call, &c, o->runs, &r);
    free(c.ids);
    if (s != SDC_OK)
        return -1;
    char name[64];
    snprintf(name, sizeof name, "%s B=%d T=%d", sdc_component_name(comp), B, T);
    print_result(name, &r);
    return 0;
}

static int bench_unet(const options *o, models *m, const float *context)
{
    int B = o->batch, h = o->size / 8, w = o->size / 8, T = 77;
    int D = sdc_unet_context_dim(m->unet), Cin = sdc_unet_in_channels(m->unet);
    int L = sdc_unet_label_dim(m->unet);
    unet_ctx c = {m->unet, random_floats((size_t)B * Cin * h * w, 11, 1.0f),
                  context && m->te && D == sdc_text_encoder_width(m->te)
                      ? (float *)context
                      : random_floats((size_t)B * T * (D ? D : 1), 12, 1.0f),
                  malloc(sizeof(float) * B * sdc_unet_out_channels(m->unet) * h * w), B, h, w,
                  T, L ? random_floats((size_t)B * L, 14, 1.0f) : NULL};
    int ok = c.x && c.context && c.out && (!L || c.label);
    result r, r32;
    r.flops = r32.flops = sdc_bench_unet_flops(m->ck, B, h, w, T);
    sdc_layer_table *layers = sdc_unet_layers(m->unet);
    int packed = o->packed && sdc_precision_get() == SDC_PRECISION_BF16;
    if (ok && packed)
        ok = sdc_packed_weights_set(layers, m->ck, 1) == SDC_OK;
    if (ok)
        ok = time_stage(unet_call, &c, o->runs, &r) == SDC_OK;
    if (packed) {
        printf("packed weights: %zu MiB, in place of %zu MiB of mapped pages\n",
               sdc_pack_cache_bytes() >> 20, sdc_packed_weights_released() >> 20);
        sdc_packed_weights_set(layers, m->ck, 0);
    }
    /* int8 / bf16: the same weights (q8_0 where int8 runs) again in fp32 math, in the same
     * process */
    sdc_precision prec = sdc_precision_get();
    int int8 = prec == SDC_PRECISION_INT8, both = prec != SDC_PRECISION_FP32;
    if (ok && both) {
        sdc_precision_set(SDC_PRECISION_FP32);
        ok = time_stage(unet_call, &c, o->runs, &r32) == SDC_OK;
        sdc_precision_set(prec);
    }
    if (c.context != context)
        free(c.context);
    free(c.x);
    free(c.out);
    free(c.label);
    if (!ok)
        return -1;
    char name[64];
    snprintf(name, sizeof name, "unet step B=%d %dx%d%s", B, h, w,
             int8 ? " int8" : prec == SDC_PRECISION_BF16 ? " bf16" : "");
    print_result(name, &r);
    if (both) {
        snprintf(name, sizeof name, "unet step B=%d %dx%d fp32", B, h, w);
        print_result(name, &r32);
        print_ratio(sdc_precision_name(prec), "unet step", &r, &r32);
    }
    return 0;
}

static uint8_t to_byte(float v)
{
    float b = (v + 1.0f) * 127.5f + 0.5f;
    return (uint8_t)(b < 0.0f ? 0.0f : b > 255.0f ? 255.0f : b);
}

/* The picture c->image (decoded at the current precision) against an fp32 decode of the same
 * latent, as 8-bit pixels: what bf16 does to the VAE alone. */
static int vae_psnr(vae_ctx *c)
{
    size_t n = (size_t)3 * c->h * c->w * 64;
    float *ref = malloc(n * sizeof *ref);
    if (!ref)
        return -1;
    vae_ctx fp = *c;
    fp.image = ref;
    sdc_precision_set(SDC_PRECISION_FP32);
    sdc_status s = vae_call(&fp);
    sdc_precision_set(SDC_PRECISION_BF16);
    double se = 0;
    int worst = 0;
    for (size_t i = 0; i < n && s == SDC_OK; i++) {
        int d = abs((int)to_byte(c->image[i]) - (int)to_byte(ref[i]));
        se += (double)d * d;
        worst = d > worst ? d : worst;
    }
    if (s == SDC_OK)
        printf("vae decode bf16 against fp32: PSNR %.2f dB, largest difference %d/255\n",
               se > 0 ? 10 * log10(255.0 * 255.0 * (double)n / se) : INFINITY, worst);
    free(ref);
    return s == SDC_OK ? 0 : -1;
}

static int bench_vae(const options *o, models *m)
{
    int h = o->size / 8, w = o->size / 8, f = sdc_vae_downscale(m->vae);
    vae_ctx c = {m->vae,
                 random_floats((size_t)sdc_vae_latent_channels(m->vae) * h * w, 13, 1.0f),
                 malloc(sizeof(float) * 3 * (size_t)h * f * w * f), h, w, o->tiling};
    int ok = c.latent && c.image;
    result r;
    r.flops = sdc_bench_vae_decode_flops(m->ck, 1, h, w);
    if (o->tiling) { /* every tile is a whole decode; overlaps are decoded twice */
        int overlap = o->tile / 4;
        ok = ok && sdc_vae_set_tiling(m->vae, o->tile, overlap) == SDC_OK;
        sdc_vae_tile_axis ay = sdc_vae_tile_plan(h, o->tile, overlap);
        sdc_vae_tile_axis ax = sdc_vae_tile_plan(w, o->tile, overlap);
        r.flops = ay.count * ax.count * sdc_bench_vae_decode_flops(m->ck, 1, ay.size, ax.size);
    }
    if (ok)
        ok = time_stage(vae_call, &c, o->runs, &r) == SDC_OK;
    int bf16 = sdc_precision_get() == SDC_PRECISION_BF16;
    if (ok && bf16)
        ok = vae_psnr(&c) == 0;
    result r32 = r; /* bf16: fp32 in the same process */
    if (ok && bf16) {
        sdc_precision_set(SDC_PRECISION_FP32);
        ok = time_stage(vae_call, &c, o->runs, &r32) == SDC_OK;
        sdc_precision_set(SDC_PRECISION_BF16);
    }
    free(c.latent);
    free(c.image);
    if (!ok)
        return -1;
    char name[64];
    if (o->tiling)
        snprintf(name, sizeof name, "vae decode %dx%d tile %d", h * f, w * f, o->tile * f);
    else
        snprintf(name, sizeof name, "vae decode %dx%d", h * f, w * f);
    print_result(name, &r);
    if (bf16) {
        print_result("vae decode fp32", &r32);
        print_ratio("bf16", "vae decode", &r, &r32);
    }
    return 0;
}

typedef struct taesd_ctx {
    sdc_taesd *t;
    float *latent, *image;
    int h, w;
} taesd_ctx;

static sdc_status taesd_call(void *p)
{
    taesd_ctx *c = p;
    return sdc_taesd_decode(c->t, c->latent, 1, c->h, c->w, c->image);
}

/* TAESD decode of a size/8 latent (docs/PERFORMANCE.md: under 0.5 s at 512 pixels). */
static int bench_taesd(const options *o)
{
    taesd_ctx c = {.h = o->size / 8, .w = o->size / 8};
    if (sdc_taesd_load(o->taesd, &c.t) != SDC_OK) {
        fprintf(stderr, "bench_sd: %s\n", sdc_last_error());
        return -1;
    }
    c.latent = random_floats((size_t)4 * c.h * c.w, 17, 1.0f);
    c.image = malloc(sizeof(float) * 3 * 64 * (size_t)c.h * c.w);
    result r = {.flops = sdc_taesd_decode_flops(c.t, c.h, c.w)};
    int ok = c.latent && c.image && time_stage(taesd_call, &c, o->runs, &r) == SDC_OK;
    if (ok) {
        char name[64];
        snprintf(name, sizeof name, "taesd decode %dx%d", 8 * c.h, 8 * c.w);
        print_header();
        print_result(name, &r);
    }
    free(c.latent);
    free(c.image);
    sdc_taesd_free(c.t);
    return ok ? 0 : -1;
}

static sdc_status load(const options *o, models *m)
{
    double t0 = sdc_bench_now();
    sdc_status s = sdc_checkpoint_open(o->model, &m->ck);
    int text = wants(o, "text") || wants(o, "unet");
    if (s == SDC_OK && text && sdc_checkpoint_count(m->ck, SDC_COMPONENT_TEXT))
        s = sdc_text_encoder_load(m->ck, &m->te);
    if (s == SDC_OK && text && sdc_checkpoint_count(m->ck, SDC_COMPONENT_TEXT2))
        s = sdc_text_encoder_load_component(m->ck, SDC_COMPONENT_TEXT2, &m->te2);
    if (s == SDC_OK && wants(o, "unet"))
        s = sdc_unet_load(m->ck, &m->unet);
    if (s == SDC_OK && wants(o, "vae"))
        s = sdc_vae_load(m->ck, &m->vae);
    if (s != SDC_OK)
        return s;
    sdc_bench_mem mem = sdc_bench_memory();
    printf("model: %s (%s); load %.2f s, RSS after load %.0f MiB (anon %.0f, file %.0f)\n",
           o->model, sdc_family_name(sdc_checkpoint_family(m->ck)), sdc_bench_now() - t0, mem.rss,
           mem.anon, mem.file);
    return SDC_OK;
}

static void unload(models *m)
{
    sdc_vae_free(m->vae);
    sdc_unet_free(m->unet);
    sdc_text_encoder_free(m->te);
    sdc_text_encoder_free(m->te2);
    sdc_checkpoint_close(m->ck);
}

/* The peak of the arithmetic the GEMMs use: the best of five short measurements, as other
 * processes only lower it. */
static void measure_peak(int threads, int bf16)
{
    for (int i = 0; i < 5; i++) {
        double p = bf16 ? sdc_cpu_peak_bf16_gflops(threads) : sdc_cpu_peak_gflops(threads);
        peak_gflops = p > peak_gflops ? p : peak_gflops;
    }
}

int main(int argc, char **argv)
{
    options o;
    if (parse(argc, argv, &o) != 0) {
        usage();
        return 2;
    }
    if (o.threads > 0)
        omp_set_num_threads(o.threads);
    if (o.cpu >= 0)
        sdc_cpu_set_max_level((sdc_cpu_level)o.cpu);
    if (o.int8_kernel >= 0)
        sdc_q8_set_max_path((sdc_q8_path)o.int8_kernel);
    sdc_precision_set((sdc_precision)o.precision);
    sdc_conv_algo_set((sdc_conv_algo)o.conv);
    sdc_winograd_bf16_set(o.wino_bf16);
    threads_used = omp_get_max_threads();
    int bf16 = o.precision == SDC_PRECISION_BF16 && sdc_cpu_has_bf16();
    if (o.peak > 0)
        peak_gflops = o.peak;
    else
        measure_peak(threads_used, bf16);
    char int8_kernels[64];
    snprintf(int8_kernels, sizeof int8_kernels, "%s (int8: %s)",
             sdc_cpu_level_name(sdc_cpu_level_get()), sdc_q8_kernel_best()->name);
    printf("kernels: %s, %s products in linear layers and convolutions, 3x3 convolutions %s, "
           "%d threads; %s peak %.1f GFLOP/s (%.1f per core, %s)\n",
           o.precision == SDC_PRECISION_INT8 ? int8_kernels : sdc_cpu_level_name(sdc_cpu_level_get()),
           bf16 ? "bf16"
           : o.precision == SDC_PRECISION_INT8
               ? "int8 (attention, feed-forward, text) and fp32"
               : "fp32",
           sdc_conv_algo_name(sdc_conv_algo_get()), threads_used,
           bf16 ? "bf16 dot-product" : "fp32 FMA", peak_gflops, peak_gflops / threads_used,
           o.peak > 0 ? "given" : "measured");
    models m = {0};
    int rc = 0;
    if (wants(&o, "text") || wants(&o, "unet") || wants(&o, "vae")) {
        if (load(&o, &m) != SDC_OK) {
            fprintf(stderr, "bench_sd: %s\n", sdc_last_error());
            unload(&m);
            return 1;
        }
        print_header();
        float *context = NULL, *context2 = NULL;
        if (wants(&o, "text") && m.te &&
            bench_text(&o, &m, m.te, SDC_COMPONENT_TEXT, &context) != 0)
            rc = 1;
        if (rc == 0 && wants(&o, "text") && m.te2 &&
            bench_text(&o, &m, m.te2, SDC_COMPONENT_TEXT2, &context2) != 0)
            rc = 1;
        free(context2);
        if (rc == 0 && wants(&o, "unet") && bench_unet(&o, &m, context) != 0)
            rc = 1;
        if (rc == 0 && wants(&o, "vae") && bench_vae(&o, &m) != 0)
            rc = 1;
        free(context);
        if (rc == 0)
            printf("peak RSS over the stages: %.0f MiB\n", whole_peak_mib);
    }
    unload(&m);
    if (rc == 0 && wants(&o, "taesd"))
        rc = bench_taesd(&o) != 0;
    if (rc == 0 && wants(&o, "psnr"))
        rc = (o.precision == SDC_PRECISION_INT8
                  ? sdc_bench_psnr_int8(o.model, o.vocab, o.size, o.steps, "euler")
                  : sdc_bench_psnr(o.model, o.vocab, o.size, o.steps, "euler")) != 0;
    if (rc == 0 && wants(&o, "micro"))
        rc = sdc_bench_micro(peak_gflops, threads_used, o.runs, o.smoke, o.packed) != 0;
    return rc;
}
