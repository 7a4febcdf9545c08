/* The models `sdc serve` keeps loaded (--keep-models N): at most N, the least recently used
 * one freed first. With N = 1 (the default) switching models frees the old one before the
 * new one is loaded, so one UNet's memory is reused rather than doubled. Used by the worker
 * thread only. */
#ifndef SDC_CMD_SERVE_CACHE_H
#define SDC_CMD_SERVE_CACHE_H

#include "sdc.h"

typedef struct sdc_model_cache sdc_model_cache;

/* keep: 1 to SDC_MODEL_CACHE_MAX; verbose: a line on stderr for every load and eviction, with
 * the process's resident memory (VmRSS) before and after. */
#define SDC_MODEL_CACHE_MAX 16
sdc_status sdc_model_cache_new(int keep, int verbose, sdc_model_cache **out);
/* The model of params->model (its path), loaded unless it is kept; *hash gets its short
 * hash. The model stays owned by the cache and valid until the next call. */
sdc_status sdc_model_cache_get(sdc_model_cache *c, const sdc_model_params *params,
                               sdc_model **model, char hash[11]);
void sdc_model_cache_free(sdc_model_cache *c);

#endif
