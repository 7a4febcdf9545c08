/* A string -> index hash map (open addressing, FNV-1a). Keys are borrowed, not copied. */
#ifndef SDC_WEIGHTS_NAME_MAP_H
#define SDC_WEIGHTS_NAME_MAP_H

#include <stddef.h>

typedef struct sdc_name_map {
    const char **keys;
    size_t *values;
    size_t capacity; /* a power of two, at least twice the number of keys */
    size_t count;
} sdc_name_map;

/* Sizes the table for `expected` keys; returns non-zero when out of memory. */
int sdc_name_map_init(sdc_name_map *map, size_t expected);
void sdc_name_map_free(sdc_name_map *map);
/* Inserts or replaces. The table never fills: init sized it for `expected` keys, and a put
 * beyond that grows it; returns non-zero when out of memory. */
int sdc_name_map_put(sdc_name_map *map, const char *key, size_t value);
/* Returns 1 and sets *value when found. */
int sdc_name_map_get(const sdc_name_map *map, const char *key, size_t *value);

#endif
