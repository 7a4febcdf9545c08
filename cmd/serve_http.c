#include "cmd/serve_http.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <string.h>

#include "cmd/serve_tokens.h"
#include "ops/error.h"

/* Connections at once (each holds a thread until it ends or idles past the timeout). */
#define MAX_CONNECTIONS 64

struct sdc_http_server {
    struct MHD_Daemon *daemon;
    sdc_http_config config;
    char *user, *password;
    sdc_tokens *tokens;
};

/* One request's body as it arrives. */
typedef struct request {
    char *data;
    size_t size, cap;
    int too_big;
} request;

char *sdc_http_error_body(const char *kind, const char *message)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "error", kind, "detail", message, "errors", message);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* On every answer: the page (cmd/serve_static.c) may run only its own scripts and styles and
 * talk only to this server; no answer is sniffed into another type or shown in a frame. */
static void add_security_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data: blob:; connect-src 'self'; "
                            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
}

static enum MHD_Result send_reply(struct MHD_Connection *c, sdc_http_reply *r)
{
    char *body = r->body ? r->body : strdup("{}");
    size_t n = body ? strlen(body) : 0;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, body ? body : "", body ? MHD_RESPMEM_MUST_FREE
                                                                  : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            r->content_type ? r->content_type : "application/json");
    add_security_headers(resp);
    if (r->retry_after > 0) {
        char s[16];
        snprintf(s, sizeof s, "%d", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", s);
    }
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *kind,
                                  const char *message)
{
    sdc_http_reply r = {status, sdc_http_error_body(kind, message), 0, NULL, -1};
    return send_reply(c, &r);
}

/* Constant-time comparison, so the answer's timing says nothing about the secret. */
static int same_secret(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char diff = na != nb;
    for (size_t i = 0; i < na && i < nb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static int basic_ok(sdc_http_server *s, struct MHD_Connection *c)
{
    char *password = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &password);
    int ok = user && password && same_secret(user, s->user) && same_secret(password, s->password);
    MHD_free(user);
    MHD_free(password);
    return ok;
}

/* Either kind of credential configured is enough; none configured: open. */
static int authorized(sdc_http_server *s, struct MHD_Connection *c)
{
    if (!s->user && !s->tokens)
        return 1;
    const char *header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (s->tokens && sdc_tokens_accept(s->tokens, header))
        return 1;
    return s->user && basic_ok(s, c);
}

/* A 401. A script that says so (X-Requested-With, as the web page does) gets it without the
 * basic-authentication challenge, so the browser leaves the asking to the page. */
static enum MHD_Result deny(sdc_http_server *s, struct MHD_Connection *c)
{
    const char *message = !s->tokens ? "basic authentication required"
                          : s->user ? "basic authentication or a bearer token required"
                          : "a bearer token required (Authorization: Bearer TOKEN)";
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Requested-With"))
        return send_error(c, 401, "Unauthorized", message);
    char *body = sdc_http_error_body("Unauthorized", message);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        body ? strlen(body) : 0, body ? body : "", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (s->tokens)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"sdc\"");
    add_security_headers(resp);
    enum MHD_Result ok = s->user ? MHD_queue_basic_auth_fail_response(c, "sdc", resp)
                                 : MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* Takes the next piece of the body; beyond the limit the rest is read and dropped. */
static void append(request *req, const char *data, size_t n, size_t limit)
{
    if (req->too_big || req->size + n > limit) {
        req->too_big = 1;
        return;
    }
    if (req->size + n + 1 > req->cap) {
        size_t cap = (req->size + n + 1) * 2;
        cap = cap > limit + 1 ? limit + 1 : cap;
        char *grown = realloc(req->data, cap);
        if (!grown) {
            req->too_big = 1;
            return;
        }
        req->data = grown;
        req->cap = cap;
    }
    memcpy(req->data + req->size, data, n);
    req->size += n;
}

/* Same origin only: a browser names the page that sends a request in Origin; one from another
 * site's page (a cross-site POST needs no CORS preflight) must not start or stop work here.
 * Scripts send no Origin. https: is the page seen through a TLS proxy (docs/server.md). */
static int foreign_origin(struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!origin)
        return 0;
    const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                             : NULL;
    return !host || !rest || strcmp(rest, host) != 0;
}

/* The declared length, when it is already too big: answered before reading the body. */
static int declared_too_big(struct MHD_Connection *c, size_t limit)
{
    const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    return len && strtoull(len, NULL, 10) > limit;
}

/* The connection whose request the handler of this thread runs (sdc_http_query). */
static _Thread_local struct MHD_Connection *handling;

const char *sdc_http_query(const char *key)
{
    return handling ? MHD_lookup_connection_value(handling, MHD_GET_ARGUMENT_KIND, key) : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    sdc_http_server *s = cls;
    (void)version;
    request *req = *con_cls;
    if (!req) { /* the headers: refuse early what needs no body to refuse */
        if (foreign_origin(c))
            return send_error(c, 403, "Forbidden",
                              "Origin: requests from other sites' pages are refused");
        sdc_http_reply page = {200, NULL, 0, NULL, -1};
        if (s->config.public_handler && s->config.public_handler(method, url, &page))
            return send_reply(c, &page);
        if (!authorized(s, c))
            return deny(s, c);
        if (declared_too_big(c, s->config.max_body))
            return send_error(c, 413, "Payload Too Large", "request body above the size limit");
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_size) {
        append(req, upload, *upload_size, s->config.max_body);
        *upload_size = 0;
        return MHD_YES;
    }
    if (req->too_big)
        return send_error(c, 413, "Payload Too Large", "request body above the size limit");
    const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    sdc_http_reply r = {200, NULL, 0, NULL, fd ? fd->connect_fd : -1};
    handling = c;
    s->config.handler(s->config.ctx, method, url, req->data ? req->data : "", req->size, &r);
    handling = NULL;
    return send_reply(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)c, (void)code;
    request *req = *con_cls;
    if (req)
        free(req->data);
    free(req);
    *con_cls = NULL;
}

/* "HOST:PORT" into addr; loopback set when HOST is 127.x.x.x or localhost. */
static sdc_status parse_listen(const char *listen, struct sockaddr_in *addr, int *loopback)
{
    const char *colon = strrchr(listen, ':');
    char host[64];
    char *end;
    if (!colon || (size_t)(colon - listen) >= sizeof host)
        return sdc_fail(SDC_ERR_ARG, "--listen takes HOST:PORT, not '%s'", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || port < 0 || port > 65535)
        return sdc_fail(SDC_ERR_ARG, "--listen: bad port in '%s'", listen);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return sdc_fail(SDC_ERR_ARG, "--listen: '%s' is not an IPv4 address", host);
    *loopback = (ntohl(addr->sin_addr.s_addr) >> 24) == 127;
    return SDC_OK;
}

static sdc_status split_auth(sdc_http_server *s, const char *auth)
{
    const char *colon = auth ? strchr(auth, ':') : NULL;
    if (!auth)
        return SDC_OK;
    if (!colon || colon == auth || !colon[1])
        return sdc_fail(SDC_ERR_ARG, "--api-auth takes USER:PASSWORD");
    s->user = strndup(auth, (size_t)(colon - auth));
    s->password = strdup(colon + 1);
    return s->user && s->password ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "out of memory");
}

static void free_server(sdc_http_server *s)
{
    sdc_tokens_free(s->tokens);
    free(s->user);
    free(s->password);
    free(s);
}

sdc_status sdc_http_start(const sdc_http_config *config, sdc_http_server **out, int *port)
{
    struct sockaddr_in addr;
    int loopback = 0;
    sdc_status st = parse_listen(config->listen, &addr, &loopback);
    if (st != SDC_OK)
        return st;
    if (!loopback && !config->auth && !config->token_file && !config->insecure)
        return sdc_fail(SDC_ERR_ARG, "--listen %s is reachable from other machines: give "
                        "--api-auth USER:PASSWORD or --token-file F, or --insecure-listen to "
                        "serve it open",
                        config->listen);
    sdc_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory");
    s->config = *config;
    st = split_auth(s, config->auth);
    if (st == SDC_OK && config->token_file)
        st = sdc_tokens_load(config->token_file, &s->tokens);
    if (st != SDC_OK) {
        free_server(s);
        return st;
    }
    s->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, 0, NULL, NULL,
        on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, config->idle_timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!s->daemon) {
        free_server(s);
        return sdc_fail(SDC_ERR_IO, "cannot listen on %s (address in use?)", config->listen);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : ntohs(addr.sin_port);
    *out = s;
    return SDC_OK;
}

int sdc_http_client_gone(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (fd < 0 || poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
        return 1;
    char byte; /* readable: a hang-up reads 0 bytes; the next request's bytes stay queued */
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void sdc_http_quiesce(sdc_http_server *s)
{
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void sdc_http_stop(sdc_http_server *s)
{
    MHD_stop_daemon(s->daemon);
    free_server(s);
}
