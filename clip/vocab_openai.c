/* OpenAI's bpe_simple_vocab_16e6.txt.gz (format in vocab.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "clip/tokenizer_text.h"
#include "clip/vocab.h"
#include "ops/error.h"

typedef struct line_span {
    const char *s;
    size_t len;
} line_span;

/* The whole decompressed file; a truncated or corrupt stream is an error. */
static sdc_status read_gz(const char *path, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open: %s", path,
                        errno ? strerror(errno) : "out of memory");
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    sdc_status st = buf ? SDC_OK : sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    while (!st) {
        if (n == cap) {
            char *p = cap < SDC_VOCAB_MAX_FILE_BYTES ? realloc(buf, cap * 2) : NULL;
            if (!p) {
                st = sdc_fail(SDC_ERR_FORMAT, "%s: larger than %u MiB uncompressed", path,
                              SDC_VOCAB_MAX_FILE_BYTES >> 20);
                break;
            }
            buf = p;
            cap *= 2;
        }
        int got = gzread(f, buf + n, (unsigned)(cap - n));
        if (got < 0) {
            int err;
            st = sdc_fail(SDC_ERR_FORMAT, "%s: corrupt or truncated gzip data (%s)", path,
                          gzerror(f, &err));
        } else if (got == 0) {
            break;
        }
        n += got > 0 ? (size_t)got : 0;
    }
    if (gzclose(f) != Z_OK && !st)
        st = sdc_fail(SDC_ERR_FORMAT, "%s: corrupt or truncated gzip data", path);
    if (st) {
        free(buf);
        return st;
    }
    *text = buf;
    *len = n;
    return SDC_OK;
}

/* Lines 2..48895 of the text (the merges CLIP uses). */
static sdc_status merge_lines(const char *path, const char *text, size_t len, line_span *lines)
{
    size_t pos = 0, k = 0;
    while (k <= SDC_VOCAB_CLIP_MERGES) {
        if (pos > len || (pos == len && k > 0))
            return sdc_fail(SDC_ERR_FORMAT, "%s: has %zu merge lines, CLIP needs %d "
                            "(truncated file?)", path, k ? k - 1 : 0, SDC_VOCAB_CLIP_MERGES);
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (k > 0)
            lines[k - 1] = (line_span){text + pos, end - pos};
        pos = end + 1;
        k++;
    }
    return SDC_OK;
}

/* Token ids in OpenAI's order: bytes, bytes + "</w>", one per merge, BOS, EOS. */
static sdc_status add_tokens(sdc_vocab *v, const char *path, const line_span *lines)
{
    sdc_status st = SDC_OK;
    for (int pass = 0; pass < 2 && !st; pass++) {
        for (unsigned i = 0; i < 256 && !st; i++) {
            char sym[4 + sizeof SDC_VOCAB_WORD_END];
            size_t n = sdc_vocab_byte_symbol(sdc_vocab_byte_at(i), sym);
            if (pass) {
                memcpy(sym + n, SDC_VOCAB_WORD_END, strlen(SDC_VOCAB_WORD_END));
                n += strlen(SDC_VOCAB_WORD_END);
            }
            st = sdc_vocab_add_token(v, sym, n);
        }
    }
    for (size_t k = 0; k < SDC_VOCAB_CLIP_MERGES && !st; k++) {
        const char *a, *b;
        size_t alen, blen;
        char joined[2048];
        if (!sdc_vocab_split_merge(lines[k].s, lines[k].len, &a, &alen, &b, &blen))
            return sdc_fail(SDC_ERR_FORMAT, "%s:%zu: malformed merge line (expected two "
                            "symbols)", path, k + 2);
        if (alen + blen > sizeof joined)
            return sdc_fail(SDC_ERR_FORMAT, "%s:%zu: merge symbols too long", path, k + 2);
        memcpy(joined, a, alen);
        memcpy(joined + alen, b, blen);
        st = sdc_vocab_add_token(v, joined, alen + blen);
    }
    if (!st)
        st = sdc_vocab_add_token(v, SDC_VOCAB_BOS, strlen(SDC_VOCAB_BOS));
    if (!st)
        st = sdc_vocab_add_token(v, SDC_VOCAB_EOS, strlen(SDC_VOCAB_EOS));
    if (st)
        sdc_error_prefix("%s", path);
    return st;
}

static sdc_status add_merges(sdc_vocab *v, const char *path, const line_span *lines)
{
    sdc_status st = SDC_OK;
    for (size_t k = 0; k < SDC_VOCAB_CLIP_MERGES && !st; k++) {
        const char *a, *b;
        size_t alen, blen;
        char where[4200];
        sdc_vocab_split_merge(lines[k].s, lines[k].len, &a, &alen, &b, &blen);
        snprintf(where, sizeof where, "%s:%zu", path, k + 2);
        st = sdc_vocab_add_merge(v, a, alen, b, blen, (int32_t)k, where);
    }
    return st;
}

sdc_status sdc_vocab_read_openai(const char *path, sdc_vocab *v)
{
    char *text;
    size_t len, bad;
    sdc_status st = read_gz(path, &text, &len);
    if (st)
        return st;
    line_span *lines = malloc(SDC_VOCAB_CLIP_MERGES * sizeof *lines);
    if (!lines)
        st = sdc_fail(SDC_ERR_NOMEM, "%s: out of memory", path);
    else if (!sdc_utf8_valid(text, len, &bad))
        st = sdc_fail(SDC_ERR_FORMAT, "%s: invalid UTF-8 at byte %zu of the decompressed "
                      "text", path, bad);
    if (!st)
        st = merge_lines(path, text, len, lines);
    if (!st)
        st = sdc_vocab_init(v, 512 + SDC_VOCAB_CLIP_MERGES + 2, SDC_VOCAB_CLIP_MERGES);
    if (!st)
        st = add_tokens(v, path, lines);
    if (!st)
        st = add_merges(v, path, lines);
    if (!st)
        st = sdc_vocab_finish(v, path);
    free(lines);
    free(text);
    return st;
}
