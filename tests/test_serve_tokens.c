/* Bearer tokens of `sdc serve --token-file` (cmd/serve_tokens.c): what a token file may
 * hold, what it may not (the message names the file and line, never the token), and which
 * Authorization headers match. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/serve_tokens.h"
#include "sdc.h"

#define T1 "Zm9vYmFyYmF6cXV4MTIzNDU2"
#define T2 "abc-DEF_ghi.jkl~mno+pqr/stu=="

/* The file's text written to a fresh temporary file; returns its path (static). */
static const char *file_with(const char *text, size_t n)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/sdc-tokens-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static sdc_status load(const char *text, sdc_tokens **t)
{
    const char *path = file_with(text, strlen(text));
    sdc_status s = sdc_tokens_load(path, t);
    unlink(path);
    return s;
}

Test(serve_tokens, comments_blank_lines_and_crlf)
{
    sdc_tokens *t = NULL;
    cr_assert_eq(load("# farm\r\n\r\n  " T1 "  \r\n\t" T2 "\n", &t), SDC_OK, "%s", sdc_last_error());
    cr_assert(sdc_tokens_accept(t, "Bearer " T1));
    cr_assert(sdc_tokens_accept(t, "bearer " T2));
    cr_assert(sdc_tokens_accept(t, "BEARER  " T1 " "));
    cr_assert_not(sdc_tokens_accept(t, "Bearer " T1 "x"));
    cr_assert_not(sdc_tokens_accept(t, "Bearer Zm9vYmFyYmF6cXV4MTIzNDU"));
    cr_assert_not(sdc_tokens_accept(t, "Bearer "));
    cr_assert_not(sdc_tokens_accept(t, "Basic " T1));
    cr_assert_not(sdc_tokens_accept(t, T1));
    cr_assert_not(sdc_tokens_accept(t, NULL));
    cr_assert_not(sdc_tokens_accept(t, "Bearer # farm"));
    sdc_tokens_free(t);
}

Test(serve_tokens, longest_token_and_longer_headers)
{
    char text[600], header[700];
    memset(text, 'a', 256);
    text[256] = '\0';
    sdc_tokens *t = NULL;
    cr_assert_eq(load(text, &t), SDC_OK, "%s", sdc_last_error());
    snprintf(header, sizeof header, "Bearer %s", text);
    cr_assert(sdc_tokens_accept(t, header));
    snprintf(header, sizeof header, "Bearer %sa", text); /* one beyond the longest */
    cr_assert_not(sdc_tokens_accept(t, header));
    sdc_tokens_free(t);
}

static void refused(const char *text, const char *message)
{
    sdc_tokens *t = NULL;
    cr_assert_neq(load(text, &t), SDC_OK, "accepted: %s", text);
    cr_assert_null(t);
    cr_assert(strstr(sdc_last_error(), message), "%s", sdc_last_error());
    cr_assert(strstr(sdc_last_error(), "/tmp/sdc-tokens-"), "%s", sdc_last_error());
}

Test(serve_tokens, malformed_files)
{
    refused("", "no token");
    refused("# only a comment\n\n", "no token");
    refused(T1 "\nshortone\n", "line 2: a token has 16");
    refused("token with spaces inside\n", "line 1");
    refused("abcdefghijklmnop=q\n", "line 1"); /* '=' only at the end */
    refused("abcdefghijklmnop\xc3\xa9\n", "line 1");
    char big[300];
    memset(big, 'b', 257);
    big[257] = '\0';
    refused(big, "line 1");
    cr_assert_null(strstr(sdc_last_error(), "bbbbbbbb"), "the token was shown");
}

Test(serve_tokens, binary_huge_and_missing_files)
{
    sdc_tokens *t = NULL;
    const char *path = file_with(T1 "\n\0" T2, sizeof T1 + 1 + sizeof T2);
    cr_assert_neq(sdc_tokens_load(path, &t), SDC_OK);
    cr_assert(strstr(sdc_last_error(), "not a text file"), "%s", sdc_last_error());
    unlink(path);
    size_t n = 70 * 1024;
    char *text = malloc(n);
    for (size_t i = 0; i < n; i++)
        text[i] = i % 32 == 31 ? '\n' : 'c';
    path = file_with(text, n);
    free(text);
    cr_assert_neq(sdc_tokens_load(path, &t), SDC_OK);
    cr_assert(strstr(sdc_last_error(), "above 64 KiB"), "%s", sdc_last_error());
    unlink(path);
    cr_assert_neq(sdc_tokens_load("/nonexistent/tokens", &t), SDC_OK);
    cr_assert(strstr(sdc_last_error(), "/nonexistent/tokens: cannot read"), "%s", sdc_last_error());
    cr_assert_null(t);
}
