/* When a kernel's loop is worth an OpenMP team. Waking the second thread and meeting it at
 * the closing barrier costs microseconds (much more when other processes hold the cores, as
 * the idle thread spins), so loops over fewer elements than this run on the calling thread:
 *   #pragma omp parallel for if (sdc_parallel_worth(n)) */
#ifndef SDC_OPS_PARALLEL_H
#define SDC_OPS_PARALLEL_H

#include <stddef.h>

#define SDC_PARALLEL_MIN_WORK ((size_t)1 << 16)

static inline int sdc_parallel_worth(size_t work)
{
    return work >= SDC_PARALLEL_MIN_WORK;
}

#endif
