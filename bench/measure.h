/* Wall clock, medians and memory figures for the benchmarks (Linux /proc). */
#ifndef SDC_BENCH_MEASURE_H
#define SDC_BENCH_MEASURE_H

/* Monotonic seconds. */
double sdc_bench_now(void);
/* CPU seconds used by the whole process (all threads) so far. */
double sdc_bench_cpu_now(void);
/* Median of v[0..n), leaving v sorted ascending; 0 when n == 0. */
double sdc_bench_median(double *v, int n);

/* Resident memory in MiB: now (rss = anon + file + shmem), and the peak since the last
 * sdc_bench_reset_peak (or process start). file counts mapped checkpoint pages. */
typedef struct sdc_bench_mem {
    double rss, peak, anon, file;
} sdc_bench_mem;

sdc_bench_mem sdc_bench_memory(void);
/* Restarts the peak at the current RSS; 0 on success, -1 when the kernel refuses. */
int sdc_bench_reset_peak(void);

#endif
