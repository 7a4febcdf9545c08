#include "ops/names.h"

#include <stdio.h>
#include <string.h>

#include "sdc.h"

const sdc_name_row *sdc_name_at(const void *rows, size_t stride, int count, int i)
{
    if (i < 0 || i >= count)
        return NULL;
    return (const sdc_name_row *)((const char *)rows + (size_t)i * stride);
}

int sdc_name_find(const void *rows, size_t stride, int count, const char *name)
{
    for (int i = 0; name && i < count; i++) {
        const sdc_name_row *row = sdc_name_at(rows, stride, count, i);
        if (strcmp(name, row->name) == 0 || (row->alias && strcmp(name, row->alias) == 0) ||
            (row->display && strcmp(name, row->display) == 0))
            return i;
    }
    return -1;
}

void sdc_names_join(const char *(*name)(int i), char *buf, size_t size)
{
    size_t used = 0;
    if (size)
        buf[0] = '\0';
    for (int i = 0; name(i) && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", name(i));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}
