#include "bench/micro.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/measure.h"
#include "ops/cpu.h"
#include "ops/dtype.h"
#include "ops/gemm_q8.h"
#include "ops/nn.h"
#include "ops/pack_cache.h"
#include "ops/winograd.h"

typedef enum kind { CONV, LINEAR, ATTENTION } kind;

/* conv: B, Cin, Cout, H(=W), k, stride; linear: M, N, K; attention: B, heads, Tq, Tk, d */
typedef struct shape {
    const char *name;
    kind kind;
    int a, b, c, d, e, f;
} shape;

static const shape shapes[] = {
    {"conv3x3 320->320 64x64", CONV, 2, 320, 320, 64, 3, 1},
    {"conv3x3 640->640 32x32", CONV, 2, 640, 640, 32, 3, 1},
    {"conv3x3 1280->1280 16x16", CONV, 2, 1280, 1280, 16, 3, 1},
    {"conv3x3 1280->1280 8x8", CONV, 2, 1280, 1280, 8, 3, 1},
    {"conv3x3 640->640 s2 32x32", CONV, 2, 640, 640, 32, 3, 2},
    {"conv3x3 960->320 64x64", CONV, 2, 960, 320, 64, 3, 1},
    {"conv1x1 960->320 64x64", CONV, 2, 960, 320, 64, 1, 1},
    {"vae conv3x3 512->512 64x64", CONV, 1, 512, 512, 64, 3, 1},
    {"vae conv3x3 512->512 128x128", CONV, 1, 512, 512, 128, 3, 1},
    {"vae conv3x3 256->256 256x256", CONV, 1, 256, 256, 256, 3, 1},
    {"vae conv3x3 128->128 512x512", CONV, 1, 128, 128, 512, 3, 1},
    {"linear 8192x320 <- 320", LINEAR, 8192, 320, 320, 0, 0, 0},
    {"linear 8192x2560 <- 320", LINEAR, 8192, 2560, 320, 0, 0, 0},
    {"linear 8192x320 <- 1280", LINEAR, 8192, 320, 1280, 0, 0, 0},
    {"linear 2048x5120 <- 640", LINEAR, 2048, 5120, 640, 0, 0, 0},
    {"linear 154x320 <- 768", LINEAR, 154, 320, 768, 0, 0, 0},
    {"attention self 4096 d40", ATTENTION, 2, 8, 4096, 4096, 40, 0},
    {"attention cross 4096x77 d40", ATTENTION, 2, 8, 4096, 77, 40, 0},
    {"attention self 1024 d80", ATTENTION, 2, 8, 1024, 1024, 80, 0},
};

static float *random_floats(size_t n, unsigned seed)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = ((float)((seed >> 9) & 0xffff) / 32768.0f - 1.0f) * 0.1f;
    }
    return p;
}

/* An f16 [rows, cols] weight like a checkpoint's (caller frees w->data). */
static int random_weight(sdc_weight *w, int rows, int cols)
{
    size_t n = (size_t)rows * cols;
    float *f = random_floats(n, 7);
    uint16_t *h = malloc(n * sizeof *h);
    if (!f || !h) {
        free(f);
        free(h);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        h[i] = sdc_f32_to_f16(f[i]);
    free(f);
    *w = (sdc_weight){.rows = rows, .cols = cols, .dtype = SDC_DTYPE_F16, .data = h};
    return 0;
}

/* One timed call of the kernel; buffers prepared by the caller. */
typedef struct bufs {
    float *x, *y, *q, *k, *v;
    sdc_weight w;
    sdc_arena arena;
} bufs;

static void run_once(const shape *s, bufs *b)
{
    switch (s->kind) {
    case CONV:
        sdc_conv2d(b->y, b->x, s->a, s->b, s->d, s->d, &b->w, NULL, s->e, s->f, s->e / 2,
                   &b->arena);
        break;
    case LINEAR:
        sdc_linear(b->y, b->x, s->a, &b->w, NULL);
        break;
    case ATTENTION:
        sdc_attention(b->y, b->q, s->b * s->e, b->k, b->v, s->b * s->e, s->a, s->b, s->c, s->d,
                      s->e, 1.0f / sqrtf((float)s->e), 0);
        break;
    }
}

static double shape_flops(const shape *s)
{
    switch (s->kind) {
    case CONV: {
        double o = (s->d + 2 * (s->e / 2) - s->e) / s->f + 1;
        return 2.0 * s->a * s->c * s->b * s->e * s->e * o * o;
    }
    case LINEAR:
        return 2.0 * s->a * s->b * s->c;
    default:
        return 4.0 * s->a * s->b * (double)s->c * s->d * s->e;
    }
}

/* Shrinks a shape for the smoke run (keeps it valid). */
static shape smoke_shape(shape s)
{
    switch (s.kind) {
    case CONV:
        s.b = (s.b + 7) / 8, s.c = (s.c + 7) / 8, s.d = (s.d + 7) / 8;
        break;
    case LINEAR:
        s.a = (s.a + 7) / 8, s.b = (s.b + 7) / 8, s.c = (s.c + 7) / 8;
        break;
    case ATTENTION:
        s.c = (s.c + 7) / 8, s.d = (s.d + 7) / 8;
        break;
    }
    return s;
}

static int alloc_bufs(const shape *s, bufs *b)
{
    size_t nx = 0, ny = 0, nqkv = 0;
    int rows = 0, cols = 0;
    if (s->kind == CONV) {
        int o = (s->d + 2 * (s->e / 2) - s->e) / s->f + 1;
        nx = (size_t)s->a * s->b * s->d * s->d;
        ny = (size_t)s->a * s->c * o * o;
        rows = s->c, cols = s->b * s->e * s->e;
    } else if (s->kind == LINEAR) {
        nx = (size_t)s->a * s->c;
        ny = (size_t)s->a * s->b;
        rows = s->b, cols = s->c;
    } else {
        nqkv = (size_t)s->a * (s->c > s->d ? s->c : s->d) * s->b * s->e;
        ny = (size_t)s->a * s->c * s->b * s->e;
    }
    *b = (bufs){0};
    sdc_arena_init(&b->arena);
    b->y = malloc(ny * sizeof(float));
    if (nx)
        b->x = random_floats(nx, 1);
    if (nqkv) {
        b->q = random_floats(nqkv, 2);
        b->k = random_floats(nqkv, 3);
        b->v = random_floats(nqkv, 4);
    }
    int ok = b->y && (!nx || b->x) && (!nqkv || (b->q && b->k && b->v));
    return ok && (!rows || random_weight(&b->w, rows, cols) == 0) ? 0 : -1;
}

static void free_bufs(bufs *b)
{
    free(b->x);
    free(b->y);
    free(b->q);
    free(b->k);
    free(b->v);
    if (b->w.owned) {
        sdc_weight_free(&b->w);
    } else {
        sdc_weight_pack_drop(&b->w); /* (sdc_weight_free drops it for owned ones) */
        free((void *)b->w.data);
    }
    sdc_arena_free(&b->arena);
}

/* Times one shape under the current settings and prints its line; int8: a linear shape's
 * weight quantised to q8_0 and run by the int8 GEMM (its int8 MACs count 2 ops each). */
static int bench_shape(const shape *s, const char *label, double peak_gflops, int threads,
                       int runs, int int8, int packed, int *kept)
{
    bufs b;
    int bad = alloc_bufs(s, &b) != 0;
    if (!bad && int8) {
        const void *f16 = b.w.data;
        bad = sdc_weight_to_q8_0(&b.w) != SDC_OK;
        if (!bad)
            free((void *)f16);
    }
    if (!bad && packed && b.w.data)
        bad = sdc_weight_pack_enable(&b.w, NULL, NULL) != 0;
    if (bad) {
        free_bufs(&b);
        fprintf(stderr, "bench_sd: out of memory for %s\n", s->name);
        return -1;
    }
    run_once(s, &b); /* warm-up: page faults, packing buffers, packed weights */
    if (kept && b.w.data && sdc_weight_packed(&b.w))
        (*kept)++;
    double t[64], cpu[64];
    int n = runs < 64 ? runs : 64;
    for (int r = 0; r < n; r++) {
        double c0 = sdc_bench_cpu_now(), t0 = sdc_bench_now();
        run_once(s, &b);
        t[r] = sdc_bench_now() - t0;
        cpu[r] = sdc_bench_cpu_now() - c0;
    }
    double med = sdc_bench_median(t, n), gflops = shape_flops(s) / med * 1e-9;
    double per_cpu = shape_flops(s) / sdc_bench_median(cpu, n) * 1e-9;
    char name[64];
    snprintf(name, sizeof name, "%s%s", s->name, label);
    printf("%-40s %10.2f %10.1f %7.1f%% %7.1f%%\n", name, med * 1e3, gflops,
           100 * gflops / peak_gflops, 100 * per_cpu / (peak_gflops / threads));
    free_bufs(&b);
    return 0;
}

/* The linear shapes again with --precision int8, against the int8 dot-product peak. */
static int bench_int8(double peak_gflops, int threads, int runs, int smoke)
{
    double peak = sdc_cpu_peak_int8_gops(threads);
    if (peak <= 0) {
        printf("\n(int8 kernel %s: no SIMD int8 peak to measure it against)\n",
               sdc_q8_kernel_best()->name);
        return 0;
    }
    (void)peak_gflops;
    printf("\n%-40s %10s %10s %8s %8s\n", "kernel (q8_0 weights, int8 math)", "median ms",
           "GOP/s", "% peak", "% cpu");
    printf("(int8 kernel %s; its dot-product peak %.1f GOP/s over %d threads, a multiply-add\n"
           " counting 2: %s)\n",
           sdc_q8_kernel_best()->name, peak, threads,
           sdc_q8_path_best() == SDC_Q8_PATH_AVX2 ? "vpmaddubsw + vpmaddwd + vpaddd"
                                                  : "vpdpbusd");
    sdc_precision saved = sdc_precision_get();
    sdc_precision_set(SDC_PRECISION_INT8);
    int status = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes && status == 0; i++)
        if (shapes[i].kind == LINEAR) {
            shape s = smoke ? smoke_shape(shapes[i]) : shapes[i];
            s.c = (s.c + 31) / 32 * 32; /* q8_0 rows are whole blocks (the smoke run's are not) */
            status = bench_shape(&s, " [int8]", peak, threads, runs, 1, 0, NULL);
        }
    sdc_precision_set(saved);
    return status;
}

int sdc_bench_micro(double peak_gflops, int threads, int runs, int smoke, int packed)
{
    char title[64];
    int bf16 = sdc_precision_get() == SDC_PRECISION_BF16 && sdc_cpu_has_bf16();
    packed = packed && bf16;
    snprintf(title, sizeof title, "kernel (f16 weights, %s math%s)", bf16 ? "bf16" : "f32",
             packed ? ", packed" : "");
    printf("\n%-40s %10s %10s %8s %8s\n", title, "median ms", "GFLOP/s", "% peak", "% cpu");
    printf("(3x3 stride-1 convolutions run under both algorithms; their GFLOP/s count the\n"
           " direct convolution's FLOPs, so Winograd's can pass 100%% of peak)\n");
    sdc_conv_algo saved = sdc_conv_algo_get();
    int status = 0, kept = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes && status == 0; i++) {
        shape s = smoke ? smoke_shape(shapes[i]) : shapes[i];
        if (s.kind == CONV && s.e == 3 && s.f == 1) {
            sdc_conv_algo_set(SDC_CONV_IMPLICIT_GEMM);
            status = bench_shape(&s, " [implicit]", peak_gflops, threads, runs, 0, packed, &kept);
            sdc_conv_algo_set(SDC_CONV_WINOGRAD);
            if (status == 0)
                status = bench_shape(&s, " [winograd]", peak_gflops, threads, runs, 0, packed,
                                     &kept);
            sdc_conv_algo_set(saved);
        } else {
            status = bench_shape(&s, "", peak_gflops, threads, runs, 0, packed, &kept);
        }
    }
    if (status == 0 && bf16) /* (Winograd's and attention's shapes keep no copy) */
        printf("shapes whose weight kept a packed copy after the warm-up call: %d\n", kept);
    return status == 0 ? bench_int8(peak_gflops, threads, runs, smoke) : status;
}
