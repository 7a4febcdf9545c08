#include "cmd/serve_static.h"

#include <stdlib.h>
#include <string.h>

int sdc_serve_static(const char *method, const char *url, sdc_http_reply *r)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return 0;
    for (const sdc_web_asset *a = sdc_web_assets; a->path; a++) {
        if (strcmp(url, a->path) != 0)
            continue;
        r->status = 200;
        r->content_type = a->content_type;
        r->body = malloc(a->size + 1);
        if (!r->body) {
            r->status = 500; /* body NULL: "{}" */
            return 1;
        }
        memcpy(r->body, a->data, a->size + 1);
        return 1;
    }
    return 0;
}
