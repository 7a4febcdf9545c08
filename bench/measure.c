#include "bench/measure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double sdc_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double sdc_bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double sdc_bench_median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

sdc_bench_mem sdc_bench_memory(void)
{
    sdc_bench_mem m = {0, 0, 0, 0};
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return m;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        double kib;
        if (sscanf(line, "VmRSS: %lf", &kib) == 1)
            m.rss = kib / 1024;
        else if (sscanf(line, "VmHWM: %lf", &kib) == 1)
            m.peak = kib / 1024;
        else if (sscanf(line, "RssAnon: %lf", &kib) == 1)
            m.anon = kib / 1024;
        else if (sscanf(line, "RssFile: %lf", &kib) == 1)
            m.file = kib / 1024;
    }
    fclose(f);
    return m;
}

int sdc_bench_reset_peak(void)
{
    /* "5" resets VmHWM (Documentation/filesystems/proc.rst, clear_refs) */
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}
