#include "ops/profile.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int enabled = -1; /* -1: SDC_PROFILE not read yet */
static int depth;        /* counted calls in progress (nested ones are not counted) */
static double wall_s[SDC_PROF_COUNT], cpu_s[SDC_PROF_COUNT];
static long calls[SDC_PROF_COUNT], faults[SDC_PROF_COUNT];
/* Per kind: the sum over calls of the busiest thread's CPU seconds (what the call would take
 * on idle cores), and the threads' CPU seconds altogether (the work). */
static double critical_s[SDC_PROF_COUNT], work_s[SDC_PROF_COUNT];

enum { MAX_THREADS = 64 };
static double thread_cpu[MAX_THREADS]; /* at the counted call's start */
static int team;                      /* threads sampled */

static const char *const kind_names[SDC_PROF_COUNT] = {
    "winograd conv", "implicit conv", "1x1 conv",   "direct conv",
    "linear",        "attention",     "norm",       "activation", "add/copy/move",
};

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Each pool thread's own CPU clock, read inside a parallel region of the team the kernels
 * use (libgomp keeps the same threads from region to region). A thread's CPU time does not
 * grow while other processes hold its core, so the spread is the kernel's own imbalance. */
static int sample_threads(double *cpu)
{
    int n = omp_get_max_threads() < MAX_THREADS ? omp_get_max_threads() : MAX_THREADS;
#pragma omp parallel num_threads(n)
    {
        int t = omp_get_thread_num();
        if (t < n)
            cpu[t] = seconds(CLOCK_THREAD_CPUTIME_ID);
    }
    return n;
}

int sdc_profile_enabled(void)
{
    if (enabled < 0) {
        const char *v = getenv("SDC_PROFILE");
        enabled = v && *v && strcmp(v, "0") != 0;
    }
    return enabled;
}

sdc_prof_mark sdc_profile_begin(void)
{
    sdc_prof_mark m = {0, 0, 0, 0};
    if (!sdc_profile_enabled() || omp_in_parallel() || depth++ > 0)
        return m;
    m.on = 1;
    team = sample_threads(thread_cpu);
    m.wall = seconds(CLOCK_MONOTONIC);
    m.cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
    m.faults = minor_faults();
    return m;
}

void sdc_profile_end(sdc_prof_kind kind, sdc_prof_mark mark)
{
    if (!sdc_profile_enabled() || omp_in_parallel())
        return;
    depth--;
    if (!mark.on)
        return;
    wall_s[kind] += seconds(CLOCK_MONOTONIC) - mark.wall;
    cpu_s[kind] += seconds(CLOCK_PROCESS_CPUTIME_ID) - mark.cpu;
    faults[kind] += minor_faults() - mark.faults;
    double now[MAX_THREADS], most = 0, sum = 0;
    int n = sample_threads(now);
    for (int t = 0; t < n && t < team; t++) {
        double d = now[t] - thread_cpu[t];
        most = d > most ? d : most;
        sum += d;
    }
    critical_s[kind] += most;
    work_s[kind] += sum;
    calls[kind]++;
}

long sdc_profile_count(sdc_prof_kind kind, double *wall, double *cpu)
{
    if (wall)
        *wall = wall_s[kind];
    if (cpu)
        *cpu = cpu_s[kind];
    return calls[kind];
}

void sdc_profile_reset(void)
{
    memset(wall_s, 0, sizeof wall_s);
    memset(cpu_s, 0, sizeof cpu_s);
    memset(calls, 0, sizeof calls);
    memset(faults, 0, sizeof faults);
    memset(critical_s, 0, sizeof critical_s);
    memset(work_s, 0, sizeof work_s);
}

void sdc_profile_print(FILE *f, int runs, double wall_total, int threads)
{
    double n = runs > 0 ? runs : 1, wall_sum = 0, cpu_sum = 0, work = 0, critical = 0;
    fprintf(f, "  %-16s %7s %9s %9s %7s %7s %8s %9s\n", "op kind", "calls", "wall s", "cpu s",
            "% wall", "busy", "balance", "faults");
    for (int k = 0; k < SDC_PROF_COUNT; k++) {
        double w = wall_s[k] / n, c = cpu_s[k] / n;
        wall_sum += w;
        cpu_sum += c;
        work += work_s[k];
        critical += critical_s[k];
        if (calls[k])
            fprintf(f, "  %-16s %7.0f %9.3f %9.3f %6.1f%% %6.0f%% %7.0f%% %9.0f\n",
                    kind_names[k], calls[k] / n, w, c, 100 * w / wall_total,
                    100 * c / (w * threads), 100 * work_s[k] / (critical_s[k] * threads),
                    faults[k] / n);
    }
    fprintf(f, "  %-16s %7s %9.3f %9s %6.1f%%\n", "other", "", wall_total - wall_sum, "",
            100 * (wall_total - wall_sum) / wall_total);
    fprintf(f, "  %-16s %7s %9.3f %9.3f %7s %6.0f%% %7.0f%%\n", "kernels", "", wall_sum, cpu_sum,
            "", 100 * cpu_sum / (wall_sum * threads), 100 * work / (critical * threads));
}
