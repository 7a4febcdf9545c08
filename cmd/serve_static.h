/* The web page of `sdc serve` (web/): its files, embedded at build time by
 * tools/embed_web.py, answered at their paths ("/" is index.html). */
#ifndef SDC_CMD_SERVE_STATIC_H
#define SDC_CMD_SERVE_STATIC_H

#include <stddef.h>

#include "cmd/serve_http.h"

typedef struct sdc_web_asset {
    const char *path;         /* "/", "/app.js", ... */
    const char *content_type;
    const unsigned char *data; /* size bytes, then a NUL */
    size_t size;
} sdc_web_asset;

/* The generated table, ended by a row of NULLs. */
extern const sdc_web_asset sdc_web_assets[];

/* An sdc_http_public handler: answers GET/HEAD of a page file into reply and returns 1; 0 for
 * any other request. The page holds no data, so it is served without authentication. */
int sdc_serve_static(const char *method, const char *url, sdc_http_reply *reply);

#endif
