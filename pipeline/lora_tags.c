#include "pipeline/lora_tags.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"

void sdc_lora_tags_free(sdc_lora_tag *tags, int count)
{
    for (int i = 0; tags && i < count; i++)
        free(tags[i].name);
    free(tags);
}

static int word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Length of the tag starting at s ('<'), 0 when s does not start one; *colon is the ':'. */
static size_t tag_at(const char *s, const char **colon)
{
    size_t i = 1;
    while (word_char(s[i]))
        i++;
    if (i == 1 || s[i] != ':')
        return 0;
    *colon = s + i;
    const char *close = strchr(s + i + 1, '>');
    if (!close || close == s + i + 1)
        return 0;
    return (size_t)(close - s) + 1;
}

/* One weight of a tag: the text up to ':' or the tag's end; `fallback` when absent. */
static int parse_weight(const char **p, const char *end, float fallback, float *out)
{
    if (*p >= end) {
        *out = fallback;
        return 1;
    }
    char buf[64];
    const char *stop = memchr(*p, ':', (size_t)(end - *p));
    size_t n = (size_t)((stop ? stop : end) - *p);
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, *p, n);
    buf[n] = '\0';
    char *rest;
    double v = strtod(buf, &rest);
    if (*rest || !isfinite(v))
        return 0;
    *out = (float)v;
    *p += n + (stop ? 1 : 0);
    return 1;
}

/* The lora tag of args [colon + 1, end) ("NAME:W[:W_UNET]") into *tag. */
static sdc_status lora_tag(const char *tag_text, size_t tag_len, const char *args,
                           const char *end, sdc_lora_tag *tag)
{
    const char *sep = memchr(args, ':', (size_t)(end - args));
    const char *name_end = sep ? sep : end;
    const char *p = sep ? sep + 1 : end;
    if (name_end == args ||
        !parse_weight(&p, end, 1.0f, &tag->te) || !parse_weight(&p, end, tag->te, &tag->unet) ||
        p < end)
        return sdc_fail(SDC_ERR_ARG, "prompt tag '%.*s': expected <lora:NAME:WEIGHT> or "
                        "<lora:NAME:TE_WEIGHT:UNET_WEIGHT>", (int)tag_len, tag_text);
    tag->name = strndup(args, (size_t)(name_end - args));
    return tag->name ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "out of memory for a prompt tag");
}

sdc_status sdc_lora_tags_parse(const char *prompt, char **stripped, sdc_lora_tag **tags,
                               int *count)
{
    size_t len = strlen(prompt), o = 0;
    *tags = NULL;
    *count = 0;
    *stripped = malloc(len + 1);
    if (!*stripped)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for the prompt");
    sdc_status s = SDC_OK;
    for (size_t i = 0; i < len && s == SDC_OK;) {
        const char *colon;
        size_t n = prompt[i] == '<' ? tag_at(prompt + i, &colon) : 0;
        if (!n) {
            (*stripped)[o++] = prompt[i++];
            continue;
        }
        if (colon - (prompt + i) == 5 && strncmp(prompt + i + 1, "lora", 4) == 0) {
            sdc_lora_tag *grown = realloc(*tags, (size_t)(*count + 1) * sizeof *grown);
            if (!grown)
                s = sdc_fail(SDC_ERR_NOMEM, "out of memory for prompt tags");
            else if ((s = lora_tag(prompt + i, n, colon + 1, prompt + i + n - 1,
                                   &grown[*count])) == SDC_OK)
                (*count)++;
            if (grown)
                *tags = grown;
        }
        i += n;
    }
    (*stripped)[o] = '\0';
    if (s != SDC_OK) {
        free(*stripped);
        *stripped = NULL;
        sdc_lora_tags_free(*tags, *count);
        *tags = NULL;
        *count = 0;
    }
    return s;
}
