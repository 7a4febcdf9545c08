/* Where a forward pass spends its time, by kind of op: wall seconds and process CPU seconds
 * of every top-level kernel call (ops/nn.h entry points), counted only when the environment
 * variable SDC_PROFILE is set to a non-empty value other than "0" (off, a call costs one
 * test of a cached flag). The kernels are called one after the other from the model code
 * and each runs its own parallel region, so the process's CPU time over a call is that
 * call's work on all threads; CPU / (wall x threads) is how busy the threads were (with
 * OMP_WAIT_POLICY=passive, so that waiting threads do not count as busy). Each pool thread's
 * own CPU time is sampled too: "balance" = the threads' work / (threads x the busiest
 * thread's CPU time), summed over calls, is how busy the threads would be on idle cores
 * (100%: evenly shared; 50% of 2 threads: one did everything), which other processes
 * taking the cores does not change. Calls made from
 * inside another counted call or a parallel region are not counted again. Not thread-safe:
 * meant for the benchmark (bench_sd prints the table when SDC_PROFILE is set). */
#ifndef SDC_OPS_PROFILE_H
#define SDC_OPS_PROFILE_H

#include <stdio.h>

typedef enum sdc_prof_kind {
    SDC_PROF_WINOGRAD,  /* 3x3 convolutions by Winograd F(4x4, 3x3) */
    SDC_PROF_CONV,      /* other convolutions (implicit GEMM) */
    SDC_PROF_CONV1X1,   /* 1x1 convolutions */
    SDC_PROF_DIRECT,    /* direct 3x3 convolutions (sdc_conv3x3_fused: TAESD) */
    SDC_PROF_LINEAR,    /* linear layers */
    SDC_PROF_ATTENTION, /* sdc_attention (QK^T, softmax, PV) */
    SDC_PROF_NORM,      /* group norm (with its SiLU), layer norm */
    SDC_PROF_ACT,       /* SiLU, GELU, GEGLU, softmax, ReLU */
    SDC_PROF_MOVE,      /* adds, concatenation, layout changes, upsampling */
    SDC_PROF_COUNT
} sdc_prof_kind;

/* A call's start; `on` is 0 when the call is not counted. */
typedef struct sdc_prof_mark {
    int on;
    double wall, cpu;
    long faults; /* minor page faults so far */
} sdc_prof_mark;

int sdc_profile_enabled(void);
sdc_prof_mark sdc_profile_begin(void);
void sdc_profile_end(sdc_prof_kind kind, sdc_prof_mark mark);
/* Calls of `kind` counted since the last reset, with their wall and CPU seconds (NULL: not
 * wanted). */
long sdc_profile_count(sdc_prof_kind kind, double *wall, double *cpu);
/* Forgets what was counted. */
void sdc_profile_reset(void);
/* Prints one row per kind with calls, wall and CPU seconds divided by `runs`, the share of
 * `wall_total` (the stage's wall seconds per run; the rest is "other": model code between
 * kernels), the threads' busy fraction for `threads` threads, their balance, and the minor
 * page faults. */
void sdc_profile_print(FILE *f, int runs, double wall_total, int threads);

#endif
