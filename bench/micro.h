/* Kernel micro-benchmarks at the SD 1.5 UNet's real shapes (batch 2, 512x512): 3x3 and 1x1
 * convolutions, the transformer's linear layers, self- and cross-attention. */
#ifndef SDC_BENCH_MICRO_H
#define SDC_BENCH_MICRO_H

/* Prints one line per kernel: median time of `runs` (after a warm-up), GFLOP/s, the share
 * of `peak_gflops` (all `threads`) and FLOP per CPU-second over one core's peak (see
 * bench_sd.c). smoke != 0 shrinks every shape 8x for a seconds-long run. packed != 0: at
 * bf16, each weight keeps its packed copy (ops/pack_cache.h), made by the warm-up call, as
 * a sampling loop's UNet weights do; 0: packed in every call. */
int sdc_bench_micro(double peak_gflops, int threads, int runs, int smoke, int packed);

#endif
