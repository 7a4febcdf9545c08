/* The HTTP side of `sdc serve`, on libmicrohttpd (one thread per connection, so a request
 * that waits for the generation worker holds only its own thread). It reads request bodies
 * up to a limit (413 beyond), checks basic or bearer-token authentication (401), closes
 * connections idle for longer than a timeout, and hands each whole
 * request to one handler that returns a status and a JSON body. */
#ifndef SDC_CMD_SERVE_HTTP_H
#define SDC_CMD_SERVE_HTTP_H

#include <stddef.h>

#include "sdc.h"

typedef struct sdc_http_reply {
    int status;
    char *body;              /* JSON text, malloc'd (the server frees it); NULL: "{}" */
    int retry_after;         /* seconds for a Retry-After header; 0: none */
    const char *content_type; /* NULL: application/json */
    int client_fd;           /* in: the client's socket, for sdc_http_client_gone */
} sdc_http_reply;

/* Called once per request, on that connection's thread; body is NUL-terminated (size bytes
 * before the NUL). */
typedef void (*sdc_http_handler)(void *ctx, const char *method, const char *url,
                                 const char *body, size_t size, sdc_http_reply *reply);

/* Within a handler: the value of the request's query argument `key` ("?key=value"), or
 * NULL when absent. */
const char *sdc_http_query(const char *key);
/* Called with the headers of each request, before authentication: returns 1 when it
 * answered (the web page's files), 0 to go on. */
typedef int (*sdc_http_public)(const char *method, const char *url, sdc_http_reply *reply);

typedef struct sdc_http_config {
    const char *listen;      /* "HOST:PORT", HOST an IPv4 address or localhost; PORT 0 = any */
    const char *auth;        /* "user:password" for basic authentication, or NULL */
    const char *token_file;  /* bearer tokens (cmd/serve_tokens.h), or NULL */
    int insecure;            /* allow a non-loopback address without auth */
    unsigned idle_timeout_s; /* a connection silent this long is closed */
    size_t max_body;         /* bytes */
    sdc_http_handler handler;
    void *ctx;
    sdc_http_public public_handler; /* NULL: none */
} sdc_http_config;

typedef struct sdc_http_server sdc_http_server;

/* Starts listening; *port receives the port (the chosen one for PORT 0). */
sdc_status sdc_http_start(const sdc_http_config *config, sdc_http_server **out, int *port);
/* Stops accepting connections (those open finish). */
void sdc_http_quiesce(sdc_http_server *server);
/* Waits for the open connections, then frees the server. */
void sdc_http_stop(sdc_http_server *server);

/* Non-zero when the client of a request being handled has hung up (its socket reads end
 * of file or an error), so the work it waits for can stop. Does not block. A client that
 * half-closes its side after sending (RFC 9112 advises against it; curl, browsers and
 * Python's clients do not) reads as gone too. */
int sdc_http_client_gone(int client_fd);

/* A JSON error body {"error": kind, "detail": message, "errors": message} (A1111's and
 * FastAPI's fields), malloc'd. */
char *sdc_http_error_body(const char *kind, const char *message);

#endif
