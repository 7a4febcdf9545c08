#include <stdio.h>
#include <string.h>

#include "weights/name_rules.h"

int sdc_name_match(const char *s, const char *pat, int *idx, const char **rest)
{
    int k = 0;
    for (; *pat; pat++) {
        if (*pat != '#') {
            if (*s++ != *pat)
                return 0;
            continue;
        }
        /* a bounded number keeps later index arithmetic far from overflow */
        int v = 0, digits = 0;
        for (; *s >= '0' && *s <= '9'; s++, digits++)
            v = v * 10 + (*s - '0');
        if (digits == 0 || digits > 4)
            return 0;
        idx[k++] = v;
    }
    *rest = s;
    return 1;
}

int sdc_name_compose(char *dst, size_t cap, const char *prefix, const char *rest,
                     const sdc_name_rename *rules, size_t count)
{
    const char *to = "";
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(rules[i].from);
        if (strncmp(rest, rules[i].from, n) == 0) {
            to = rules[i].to;
            rest += n;
            break;
        }
    }
    int len = snprintf(dst, cap, "%s%s%s", prefix, to, rest);
    return len >= 0 && (size_t)len < cap ? 1 : -1;
}
