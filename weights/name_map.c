#include "weights/name_map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

static int alloc_table(sdc_name_map *map, size_t capacity)
{
    map->keys = calloc(capacity, sizeof *map->keys);
    map->values = calloc(capacity, sizeof *map->values);
    map->capacity = capacity;
    map->count = 0;
    return map->keys && map->values ? 0 : -1;
}

int sdc_name_map_init(sdc_name_map *map, size_t expected)
{
    size_t cap = 16;
    while (cap < 2 * expected + 1)
        cap *= 2;
    return alloc_table(map, cap);
}

void sdc_name_map_free(sdc_name_map *map)
{
    free(map->keys);
    free(map->values);
    memset(map, 0, sizeof *map);
}

static size_t slot_of(const sdc_name_map *map, const char *key)
{
    size_t i = (size_t)fnv1a(key) & (map->capacity - 1);
    while (map->keys[i] && strcmp(map->keys[i], key) != 0)
        i = (i + 1) & (map->capacity - 1);
    return i;
}

static int grow(sdc_name_map *map)
{
    sdc_name_map bigger;
    if (alloc_table(&bigger, map->capacity * 2) != 0) {
        free(bigger.keys);
        free(bigger.values);
        return -1;
    }
    for (size_t i = 0; i < map->capacity; i++)
        if (map->keys[i])
            sdc_name_map_put(&bigger, map->keys[i], map->values[i]);
    sdc_name_map_free(map);
    *map = bigger;
    return 0;
}

int sdc_name_map_put(sdc_name_map *map, const char *key, size_t value)
{
    if (2 * (map->count + 1) > map->capacity && grow(map) != 0)
        return -1;
    size_t i = slot_of(map, key);
    if (!map->keys[i]) {
        map->keys[i] = key;
        map->count++;
    }
    map->values[i] = value;
    return 0;
}

int sdc_name_map_get(const sdc_name_map *map, const char *key, size_t *value)
{
    if (!map->capacity)
        return 0;
    size_t i = slot_of(map, key);
    if (!map->keys[i])
        return 0;
    *value = map->values[i];
    return 1;
}
