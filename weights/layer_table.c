#include "weights/layer_table.h"

#include <stdlib.h>
#include <string.h>

#include "ops/error.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(((const sdc_layer_entry *)a)->name, ((const sdc_layer_entry *)b)->name);
}

sdc_status sdc_layer_table_add(sdc_layer_table *t, const char *name, sdc_layer *layer)
{
    if (t->count == t->capacity) {
        size_t cap = t->capacity ? 2 * t->capacity : 256;
        sdc_layer_entry *e = realloc(t->entries, cap * sizeof *e);
        if (!e)
            return sdc_fail(SDC_ERR_NOMEM, "out of memory for the layer table");
        t->entries = e;
        t->capacity = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for the layer table");
    t->entries[t->count++] = (sdc_layer_entry){copy, layer};
    t->sorted = 0;
    return SDC_OK;
}

sdc_layer *sdc_layer_table_find(sdc_layer_table *t, const char *name)
{
    if (!t->sorted) {
        if (t->count)
            qsort(t->entries, t->count, sizeof *t->entries, by_name);
        t->sorted = 1;
    }
    sdc_layer_entry key = {(char *)name, NULL};
    sdc_layer_entry *e = t->count ? bsearch(&key, t->entries, t->count, sizeof *t->entries,
                                            by_name)
                                  : NULL;
    return e ? e->layer : NULL;
}

void sdc_layer_table_free(sdc_layer_table *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->entries[i].name);
    free(t->entries);
    *t = (sdc_layer_table){0};
}
