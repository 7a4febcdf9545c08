/* The rows behind the public name tables (include/sdc.h, "Names"): every concept the user
 * names (sampler, scheduler, RNG, prediction type, model family) keeps one array of rows in
 * the file that implements it; these helpers answer the public count / name / parse calls
 * for all of them alike. */
#ifndef SDC_OPS_NAMES_H
#define SDC_OPS_NAMES_H

#include <stddef.h>

typedef struct sdc_name_row {
    const char *name;        /* the spelling of the command line, job files and reports */
    const char *alias;       /* another accepted spelling, or NULL */
    const char *display;     /* AUTOMATIC1111's text in PNG metadata, or NULL */
    const char *description; /* one line for --help */
} sdc_name_row;

/* A table's rows may be larger structs that begin with an sdc_name_row: `stride` is the
 * size of one row. Row i, or NULL when i is outside [0, count). */
const sdc_name_row *sdc_name_at(const void *rows, size_t stride, int count, int i);
/* The index of the row whose name, alias or display name (AUTOMATIC1111's, for job files
 * written for it) is `name` (NULL: -1); -1 when none. */
int sdc_name_find(const void *rows, size_t stride, int count, const char *name);

#define SDC_NAME_AT(rows, i) \
    sdc_name_at(rows, sizeof *(rows), (int)(sizeof(rows) / sizeof *(rows)), i)
#define SDC_NAME_FIND(rows, name) \
    sdc_name_find(rows, sizeof *(rows), (int)(sizeof(rows) / sizeof *(rows)), name)
#define SDC_NAME_COUNT(rows) ((int)(sizeof(rows) / sizeof *(rows)))

/* Defines the five public functions of one table (include/sdc.h, "Names"):
 * prefix_count, prefix_name, prefix_display_name, prefix_description, prefix_from_name. */
#define SDC_NAME_TABLE_API(prefix, rows)                                                   \
    int prefix##_count(void) { return SDC_NAME_COUNT(rows); }                              \
    const char *prefix##_name(int i)                                                       \
    {                                                                                      \
        const sdc_name_row *row = SDC_NAME_AT(rows, i);                                    \
        return row ? row->name : NULL;                                                     \
    }                                                                                      \
    const char *prefix##_display_name(int i)                                               \
    {                                                                                      \
        const sdc_name_row *row = SDC_NAME_AT(rows, i);                                    \
        return row ? row->display : NULL;                                                  \
    }                                                                                      \
    const char *prefix##_description(int i)                                                \
    {                                                                                      \
        const sdc_name_row *row = SDC_NAME_AT(rows, i);                                    \
        return row ? row->description : NULL;                                              \
    }                                                                                      \
    int prefix##_from_name(const char *name) { return SDC_NAME_FIND(rows, name); }

#endif
