#include "cmd/serve_tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ops/error.h"

/* A token file is a short list, not a database: anything larger is the wrong file. */
#define MAX_FILE_BYTES (64 * 1024)
#define MAX_TOKENS 256

struct sdc_tokens {
    int count;
    char token[MAX_TOKENS][SDC_TOKEN_MAX + 1];
};

static int token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-._~+/", c));
}

/* RFC 6750's b64token: the characters a bearer token may have, '=' only at its end. */
static int well_formed(const char *t, size_t n)
{
    size_t i = 0;
    while (i < n && token_char(t[i]))
        i++;
    while (i < n && t[i] == '=')
        i++;
    return i == n && n >= SDC_TOKEN_MIN && n <= SDC_TOKEN_MAX;
}

/* One line (without its newline): skipped, kept, or refused. */
static sdc_status take_line(sdc_tokens *t, const char *path, int line, char *s, size_t n)
{
    while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    if (n == 0 || *s == '#')
        return SDC_OK;
    if (!well_formed(s, n))
        return sdc_fail(SDC_ERR_ARG, "%s: line %d: a token has %d to %d characters of A-Z a-z "
                        "0-9 - . _ ~ + / (then = padding)", path, line, SDC_TOKEN_MIN, SDC_TOKEN_MAX);
    if (t->count == MAX_TOKENS)
        return sdc_fail(SDC_ERR_ARG, "%s: more than %d tokens", path, MAX_TOKENS);
    memcpy(t->token[t->count], s, n);
    t->token[t->count++][n] = '\0';
    return SDC_OK;
}

static sdc_status parse(sdc_tokens *t, const char *path, char *text, size_t size)
{
    if (memchr(text, '\0', size))
        return sdc_fail(SDC_ERR_ARG, "%s: not a text file", path);
    int line = 1;
    for (char *s = text; s < text + size; line++) {
        char *nl = memchr(s, '\n', (size_t)(text + size - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(text + size - s);
        sdc_status st = take_line(t, path, line, s, n);
        if (st != SDC_OK)
            return st;
        s += n + 1;
    }
    return t->count ? SDC_OK : sdc_fail(SDC_ERR_ARG, "%s: no token in the file", path);
}

static sdc_status read_small(const char *path, char **text, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sdc_fail(SDC_ERR_IO, "%s: cannot read the token file", path);
    char *buf = malloc(MAX_FILE_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_FILE_BYTES + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory");
    if (bad || n > MAX_FILE_BYTES) {
        free(buf);
        return sdc_fail(SDC_ERR_ARG, "%s: %s", path, bad ? "cannot read the token file"
                        : "token file above 64 KiB");
    }
    *text = buf;
    *size = n;
    return SDC_OK;
}

sdc_status sdc_tokens_load(const char *path, sdc_tokens **out)
{
    char *text = NULL;
    size_t size = 0;
    sdc_status s = read_small(path, &text, &size);
    if (s != SDC_OK)
        return s;
    sdc_tokens *t = calloc(1, sizeof *t);
    s = t ? parse(t, path, text, size) : sdc_fail(SDC_ERR_NOMEM, "out of memory");
    memset(text, 0, size); /* the secrets live in one place only */
    free(text);
    if (s != SDC_OK) {
        sdc_tokens_free(t);
        return s;
    }
    *out = t;
    return SDC_OK;
}

/* Compares all SDC_TOKEN_MAX + 1 bytes whatever the lengths (a kept token is zero-padded),
 * so the time taken tells nothing about the secret. */
static int same_token(const char *a, const char *given, size_t n)
{
    unsigned char diff = n > SDC_TOKEN_MAX;
    for (size_t i = 0; i <= SDC_TOKEN_MAX; i++)
        diff |= (unsigned char)a[i] ^ (i < n ? (unsigned char)given[i] : 0);
    return diff == 0;
}

int sdc_tokens_accept(const sdc_tokens *t, const char *authorization)
{
    if (!t || !authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return 0;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    size_t n = strlen(given);
    while (n && (given[n - 1] == ' ' || given[n - 1] == '\t'))
        n--;
    int ok = 0;
    for (int i = 0; i < t->count; i++)
        ok |= same_token(t->token[i], given, n);
    return ok;
}

void sdc_tokens_free(sdc_tokens *t)
{
    if (t)
        memset(t, 0, sizeof *t);
    free(t);
}
