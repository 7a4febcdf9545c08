/* Small JSON files of diffusers folders (model_index.json, configs, shard indexes). */
#ifndef SDC_WEIGHTS_JSON_FILE_H
#define SDC_WEIGHTS_JSON_FILE_H

#include <jansson.h>

#include "sdc.h"

/* Largest JSON file read (shard indexes of the biggest models are a few hundred KB). */
#define SDC_JSON_FILE_MAX (64u << 20)

/* Loads the JSON object in `path`; errors (unreadable, too large, invalid, not an object)
 * name the file. The caller owns *out (json_decref). */
sdc_status sdc_json_load_object(const char *path, json_t **out);

/* `dir` + "/" + `name` into buf; returns 0 when it does not fit. */
int sdc_path_join(char *buf, size_t cap, const char *dir, const char *name);
/* 1 when `path` is an existing regular file. */
int sdc_is_file(const char *path);

#endif
