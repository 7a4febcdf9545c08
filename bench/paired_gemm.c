/* paired_gemm: two versions of one GEMM kernel file in one process, timed alternately on the
 * same operands, so that a host whose speed drifts by 20-30% between processes still shows a
 * 5% difference. bench/paired_gemm.sh builds it: pair_old and pair_new are the kernel getters
 * of two copies of a kernel file (e.g. ops/gemm_avx2.c at two revisions) with their getter
 * renamed. Each shape runs as a linear layer calls the GEMM (f32 activations A [M, K], f16
 * weights B [N, K]); per pair the order alternates. Prints the medians and the median of the
 * per-pair time ratios new / old with its quartiles. */
#include <stdio.h>
#include <stdlib.h>

#include "bench/measure.h"
#include "ops/gemm_driver.h"

const sdc_gemm_kernel *pair_old(sdc_a_layout layout);
const sdc_gemm_kernel *pair_new(sdc_a_layout layout);

enum { MAX_PAIRS = 200 };

typedef struct operands {
    int M, N, K;
    float *x, *y;
    unsigned short *w;
} operands;

static double timed(const sdc_gemm_kernel *kern, const operands *o)
{
    sdc_operand a = {.kind = SDC_OPERAND_ROWS, .dtype = SDC_DTYPE_F32, .data = o->x,
                     .ld = (size_t)o->K};
    sdc_operand b = {.kind = SDC_OPERAND_ROWS, .dtype = SDC_DTYPE_F16, .data = o->w,
                     .ld = (size_t)o->K};
    double t = sdc_bench_now();
    sdc_gemm_run(kern, 1, o->M, o->N, o->K, 1.0f, &a, &b, o->y, (size_t)o->N, 0, 0, NULL, NULL);
    return sdc_bench_now() - t;
}

static void run_shape(operands *o, int pairs)
{
    const sdc_gemm_kernel *old = pair_old(SDC_A_ROWS), *new = pair_new(SDC_A_ROWS);
    double t_old[MAX_PAIRS], t_new[MAX_PAIRS], ratio[MAX_PAIRS];
    timed(old, o); /* warm both: pages, caches, scratch */
    timed(new, o);
    for (int r = 0; r < pairs; r++) {
        if (r % 2) {
            t_new[r] = timed(new, o);
            t_old[r] = timed(old, o);
        } else {
            t_old[r] = timed(old, o);
            t_new[r] = timed(new, o);
        }
        ratio[r] = t_new[r] / t_old[r];
    }
    double mo = sdc_bench_median(t_old, pairs), mn = sdc_bench_median(t_new, pairs);
    /* ratio is sorted now: its quartiles are the medians of its lower and upper halves */
    double mid = sdc_bench_median(ratio, pairs), low = mid, high = mid;
    int half = pairs / 2;
    if (half > 0) {
        low = sdc_bench_median(ratio, half);
        high = sdc_bench_median(ratio + pairs - half, half);
    }
    double gflop = 2.0 * o->M * o->N * (double)o->K / 1e9;
    printf("%6d x %6d <- %6d  old %8.2f ms (%6.1f GFLOP/s)  new %8.2f ms (%6.1f GFLOP/s)  "
           "new/old %.3f (%.3f-%.3f)\n",
           o->M, o->N, o->K, mo * 1e3, gflop / mo, mn * 1e3, gflop / mn, mid, low, high);
}

int main(int argc, char **argv)
{
    if (argc < 5 || (argc - 2) % 3) {
        fprintf(stderr, "usage: %s PAIRS M N K [M N K ...]\n", argv[0]);
        return 2;
    }
    int pairs = atoi(argv[1]);
    if (pairs < 1 || pairs > MAX_PAIRS) {
        fprintf(stderr, "%s: PAIRS must be 1 to %d\n", argv[0], MAX_PAIRS);
        return 2;
    }
    for (int s = 2; s + 2 < argc; s += 3) {
        operands o = {atoi(argv[s]), atoi(argv[s + 1]), atoi(argv[s + 2]), NULL, NULL, NULL};
        if (o.M < 1 || o.N < 1 || o.K < 1) {
            fprintf(stderr, "%s: bad shape %s %s %s\n", argv[0], argv[s], argv[s + 1],
                    argv[s + 2]);
            return 2;
        }
        o.x = malloc((size_t)o.M * o.K * sizeof(float));
        o.y = malloc((size_t)o.M * o.N * sizeof(float));
        o.w = malloc((size_t)o.N * o.K * sizeof(unsigned short));
        if (!o.x || !o.y || !o.w) {
            fprintf(stderr, "%s: out of memory\n", argv[0]);
            return 1;
        }
        srand(1);
        for (size_t i = 0; i < (size_t)o.M * o.K; i++)
            o.x[i] = (float)(rand() % 2001 - 1000) / 1000.0f;
        for (size_t i = 0; i < (size_t)o.N * o.K; i++) /* f16 in [-2, -1] U [1, 2] */
            o.w[i] = (unsigned short)(0x3c00 | (rand() & 0x83ff));
        run_shape(&o, pairs);
        free(o.x);
        free(o.y);
        free(o.w);
    }
    return 0;
}
