/* One component's internal name -> tensor table. */
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "weights/checkpoint_impl.h"

void sdc_ck_table_free(sdc_ck_table *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->entries[i].name);
    free(t->entries);
    sdc_name_map_free(&t->index);
    memset(t, 0, sizeof *t);
}

static int reserve(sdc_ck_table *t)
{
    if (t->count < t->capacity)
        return 0;
    size_t cap = t->capacity ? 2 * t->capacity : 256;
    sdc_ck_entry *grown = realloc(t->entries, cap * sizeof *grown);
    if (!grown)
        return -1;
    t->entries = grown;
    t->capacity = cap;
    if (!t->index.capacity && sdc_name_map_init(&t->index, cap) != 0)
        return -1;
    return 0;
}

sdc_status sdc_ck_table_add(sdc_ck_table *t, const char *name, const sdc_tensor *tensor,
                            const char *path)
{
    if (sdc_ck_table_find(t, name))
        return sdc_fail(SDC_ERR_FORMAT, "%s: two tensors map to the internal name '%s'", path,
                        name);
    if (reserve(t) != 0)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    sdc_ck_entry *e = &t->entries[t->count];
    *e = (sdc_ck_entry){.name = strdup(name)};
    if (!e->name || sdc_name_map_put(&t->index, e->name, t->count) != 0) {
        free(e->name);
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    }
    e->tensor = *tensor;
    t->count++;
    return SDC_OK;
}

const sdc_ck_entry *sdc_ck_table_find(const sdc_ck_table *t, const char *name)
{
    size_t i;
    return sdc_name_map_get(&t->index, name, &i) ? &t->entries[i] : NULL;
}
