/* Groups the tensors of an adapter file by the module they change: kohya writes three to
 * five tensors per module (down, up, alpha, ...), the diffusers layouts two. */
#include <stdlib.h>
#include <string.h>

#include "lora/lora_impl.h"
#include "ops/error.h"
#include "weights/name_map.h"

void sdc_lora_adapters_free(sdc_lora_adapter *a, size_t count)
{
    for (size_t i = 0; i < count && a; i++)
        free(a[i].module);
    free(a);
}

/* The adapter of (component, module), appended when new; NULL when out of memory. */
static sdc_lora_adapter *adapter_for(sdc_name_map maps[3], sdc_lora_adapter **list,
                                     size_t *count, sdc_lora_component c, const char *module)
{
    size_t at;
    if (sdc_name_map_get(&maps[c], module, &at))
        return &(*list)[at];
    sdc_lora_adapter *grown = realloc(*list, (*count + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    *list = grown;
    sdc_lora_adapter *a = &grown[*count];
    memset(a, 0, sizeof *a);
    a->component = c;
    a->module = strdup(module);
    if (!a->module || sdc_name_map_put(&maps[c], a->module, *count)) {
        free(a->module);
        return NULL;
    }
    return &grown[(*count)++];
}

sdc_status sdc_lora_read_adapters(const sdc_safetensors *st, sdc_lora_layout layout,
                                  sdc_lora_adapter **out, size_t *count, size_t *unparsed,
                                  const char **first_unparsed)
{
    size_t n = sdc_safetensors_count(st);
    sdc_name_map maps[3]; /* one per component */
    int ok = !sdc_name_map_init(&maps[0], n) && !sdc_name_map_init(&maps[1], n) &&
             !sdc_name_map_init(&maps[2], n);
    *out = NULL;
    *count = *unparsed = 0;
    *first_unparsed = NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(st, i);
        sdc_lora_component c;
        char module[256];
        int slot;
        if (!sdc_lora_parse_key(layout, e->name, &c, module, sizeof module, &slot)) {
            if ((*unparsed)++ == 0)
                *first_unparsed = e->name;
            continue;
        }
        sdc_lora_adapter *a = adapter_for(maps, out, count, c, module);
        if (!a)
            ok = 0;
        else if (a->part[slot]) {
            for (int k = 0; k < 3; k++)
                sdc_name_map_free(&maps[k]);
            sdc_lora_adapters_free(*out, *count);
            *out = NULL;
            return sdc_fail(SDC_ERR_FORMAT, "%s: tensor '%s' repeats a part of module '%s'",
                            sdc_safetensors_path(st), e->name, module);
        } else
            a->part[slot] = e;
    }
    for (int k = 0; k < 3; k++)
        sdc_name_map_free(&maps[k]);
    if (!ok) {
        sdc_lora_adapters_free(*out, *count);
        *out = NULL;
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory reading its adapters",
                        sdc_safetensors_path(st));
    }
    return SDC_OK;
}
