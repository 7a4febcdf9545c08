/* Vocabulary search, the format-independent part of loading, and lookups (vocab.h). */
#include "clip/vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/error.h"

/* Longest token string accepted (CLIP's longest is a few dozen bytes). */
#define VOCAB_MAX_TOKEN_BYTES 1024

/* ---- bytes_to_unicode ---------------------------------------------------------------- */

/* GPT-2 keeps the printable Latin-1 bytes as their own characters and moves the other 68
 * to U+0100 onwards, so every byte has a visible, non-space symbol. */
static bool byte_is_printable(unsigned b)
{
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

unsigned sdc_vocab_byte_at(unsigned index)
{
    unsigned k = 0;
    for (unsigned b = 0; b < 256; b++)
        if (byte_is_printable(b) && k++ == index)
            return b;
    for (unsigned b = 0; b < 256; b++)
        if (!byte_is_printable(b) && k++ == index)
            return b;
    return 0;
}

size_t sdc_vocab_byte_symbol(unsigned b, char out[4])
{
    unsigned cp = b;
    if (!byte_is_printable(b)) {
        cp = 256;
        for (unsigned c = 0; c < b; c++)
            cp += !byte_is_printable(c);
    }
    /* cp < 0x800: one or two UTF-8 bytes */
    size_t n;
    if (cp < 0x80) {
        out[0] = (char)cp;
        n = 1;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    }
    out[n] = '\0';
    return n;
}

/* ---- building ------------------------------------------------------------------------ */

sdc_status sdc_vocab_init(sdc_vocab *v, size_t max_tokens, size_t max_merges)
{
    memset(v, 0, sizeof *v);
    v->bos_id = v->eos_id = -1;
    v->cap_tokens = max_tokens;
    v->off = malloc(max_tokens * sizeof *v->off);
    v->len = malloc(max_tokens * sizeof *v->len);
    if (!v->off || !v->len)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for %zu tokens", max_tokens);
    sdc_status st = sdc_strmap_init(&v->ids, max_tokens);
    return st ? st : sdc_pairmap_init(&v->merges, max_merges);
}

static sdc_status pool_append(sdc_vocab *v, const char *s, size_t len)
{
    if (len + 1 > SIZE_MAX - v->pool_len || v->pool_len + len + 1 > UINT32_MAX)
        return sdc_fail(SDC_ERR_FORMAT, "vocabulary strings exceed 4 GiB");
    if (v->pool_len + len + 1 > v->pool_cap) {
        size_t cap = v->pool_cap ? v->pool_cap : 4096;
        while (cap < v->pool_len + len + 1)
            cap *= 2;
        char *p = realloc(v->pool, cap);
        if (!p)
            return sdc_fail(SDC_ERR_NOMEM, "out of memory for vocabulary strings");
        v->pool = p;
        v->pool_cap = cap;
    }
    memcpy(v->pool + v->pool_len, s, len);
    v->pool[v->pool_len + len] = '\0';
    v->pool_len += len + 1;
    return SDC_OK;
}

sdc_status sdc_vocab_add_token(sdc_vocab *v, const char *s, size_t len)
{
    if (v->n_tokens == v->cap_tokens)
        return sdc_fail(SDC_ERR_FORMAT, "vocabulary holds more tokens than it declares");
    if (len == 0 || len > VOCAB_MAX_TOKEN_BYTES)
        return sdc_fail(SDC_ERR_FORMAT, "token %zu has an invalid length %zu", v->n_tokens,
                        len);
    size_t at = v->pool_len;
    sdc_status st = pool_append(v, s, len);
    if (st)
        return st;
    v->off[v->n_tokens] = (uint32_t)at;
    v->len[v->n_tokens] = (uint32_t)len;
    st = sdc_strmap_put(&v->ids, v->pool, v->off, v->len, (int32_t)v->n_tokens);
    if (st)
        return st;
    v->n_tokens++;
    return SDC_OK;
}

int32_t sdc_vocab_id(const sdc_vocab *v, const char *s, size_t len)
{
    return sdc_strmap_get(&v->ids, v->pool, v->off, v->len, s, len);
}

const char *sdc_vocab_token(const sdc_vocab *v, int32_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= v->n_tokens)
        return NULL;
    *len = v->len[id];
    return v->pool + v->off[id];
}

sdc_status sdc_vocab_add_merge(sdc_vocab *v, const char *a, size_t alen, const char *b,
                               size_t blen, int32_t rank, const char *where)
{
    char joined[2 * VOCAB_MAX_TOKEN_BYTES];
    if (alen > VOCAB_MAX_TOKEN_BYTES || blen > VOCAB_MAX_TOKEN_BYTES)
        return sdc_fail(SDC_ERR_FORMAT, "%s: merge symbol longer than %d bytes", where,
                        VOCAB_MAX_TOKEN_BYTES);
    int32_t left = sdc_vocab_id(v, a, alen), right = sdc_vocab_id(v, b, blen);
    memcpy(joined, a, alen);
    memcpy(joined + alen, b, blen);
    int32_t merged = sdc_vocab_id(v, joined, alen + blen);
    if (left < 0 || right < 0 || merged < 0)
        return sdc_fail(SDC_ERR_FORMAT, "%s: merge '%.*s %.*s' uses a symbol missing from "
                        "the vocabulary", where, (int)alen, a, (int)blen, b);
    sdc_status st = sdc_pairmap_put(&v->merges, left, right, rank, merged);
    if (st)
        return st;
    v->n_merges++;
    return SDC_OK;
}

sdc_status sdc_vocab_finish(sdc_vocab *v, const char *where)
{
    for (unsigned b = 0; b < 256; b++) {
        char sym[4 + sizeof SDC_VOCAB_WORD_END];
        size_t n = sdc_vocab_byte_symbol(b, sym);
        v->byte_id[b] = sdc_vocab_id(v, sym, n);
        memcpy(sym + n, SDC_VOCAB_WORD_END, sizeof SDC_VOCAB_WORD_END);
        v->byte_end_id[b] = sdc_vocab_id(v, sym, n + strlen(SDC_VOCAB_WORD_END));
        if (v->byte_id[b] < 0 || v->byte_end_id[b] < 0)
            return sdc_fail(SDC_ERR_FORMAT, "%s: the vocabulary lacks the symbol of byte 0x%02X",
                            where, b);
    }
    v->bos_id = sdc_vocab_id(v, SDC_VOCAB_BOS, strlen(SDC_VOCAB_BOS));
    v->eos_id = sdc_vocab_id(v, SDC_VOCAB_EOS, strlen(SDC_VOCAB_EOS));
    if (v->bos_id < 0 || v->eos_id < 0)
        return sdc_fail(SDC_ERR_FORMAT, "%s: the vocabulary lacks %s or %s", where,
                        SDC_VOCAB_BOS, SDC_VOCAB_EOS);
    return SDC_OK;
}

static bool ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

bool sdc_vocab_split_merge(const char *line, size_t len, const char **a, size_t *alen,
                           const char **b, size_t *blen)
{
    const char *field[3];
    size_t flen[3], nf = 0, i = 0;
    while (i < len) {
        while (i < len && ascii_space(line[i]))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && !ascii_space(line[i]))
            i++;
        if (nf == 3)
            return false;
        field[nf] = line + start;
        flen[nf++] = i - start;
    }
    if (nf != 2)
        return false;
    *a = field[0];
    *alen = flen[0];
    *b = field[1];
    *blen = flen[1];
    return true;
}

void sdc_vocab_free(sdc_vocab *v)
{
    if (!v)
        return;
    free(v->pool);
    free(v->off);
    free(v->len);
    sdc_strmap_free(&v->ids);
    sdc_pairmap_free(&v->merges);
    free(v);
}

sdc_status sdc_vocab_load(const sdc_vocab_source *src, sdc_vocab **out)
{
    *out = NULL;
    sdc_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for the vocabulary");
    sdc_status st = src->format == SDC_VOCAB_FORMAT_OPENAI_GZ
                        ? sdc_vocab_read_openai(src->path, v)
                        : sdc_vocab_read_hf(src->path, v);
    if (st) {
        sdc_vocab_free(v);
        return st;
    }
    v->source = *src;
    *out = v;
    return SDC_OK;
}

/* ---- search -------------------------------------------------------------------------- */

static bool is_dir(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISDIR(s.st_mode);
}

static bool is_file(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

static bool join_exists(const char *dir, const char *name, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    return n > 0 && (size_t)n < size && is_file(buf);
}

static bool set_source(sdc_vocab_source *out, sdc_vocab_format format, const char *path)
{
    int n = snprintf(out->path, sizeof out->path, "%s", path);
    out->format = format;
    return n > 0 && (size_t)n < sizeof out->path;
}

/* A vocabulary at path: a folder with the HF pair or the .gz, or the .gz file itself (a
 * vocab.json or merges.txt file stands for its folder). */
static bool probe(const char *path, sdc_vocab_source *out)
{
    char a[4096], b[4096];
    if (is_dir(path)) {
        if (join_exists(path, "vocab.json", a, sizeof a) &&
            join_exists(path, "merges.txt", b, sizeof b))
            return set_source(out, SDC_VOCAB_FORMAT_HF_PAIR, path);
        if (join_exists(path, SDC_VOCAB_GZ_NAME, a, sizeof a))
            return set_source(out, SDC_VOCAB_FORMAT_OPENAI_GZ, a);
        return false;
    }
    if (!is_file(path))
        return false;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strcmp(base, "vocab.json") == 0 || strcmp(base, "merges.txt") == 0) {
        snprintf(a, sizeof a, "%.*s", base == path ? 1 : (int)(base - path - 1),
                 base == path ? "." : path);
        return probe(a, out) && out->format == SDC_VOCAB_FORMAT_HF_PAIR;
    }
    return set_source(out, SDC_VOCAB_FORMAT_OPENAI_GZ, path);
}

sdc_status sdc_vocab_user_dir(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, size, "%s/sdc", xdg);
    else if (home && home[0])
        n = snprintf(buf, size, "%s/.local/share/sdc", home);
    else
        return sdc_fail(SDC_ERR_IO, "neither XDG_DATA_HOME nor HOME is set");
    if (n < 0 || (size_t)n >= size)
        return sdc_fail(SDC_ERR_IO, "the per-user data folder path is too long");
    return SDC_OK;
}

static sdc_status not_a_vocabulary(const char *what, const char *path)
{
    return sdc_fail(SDC_ERR_IO, "%s '%s' holds no CLIP vocabulary (expected %s, or a folder "
                    "with vocab.json and merges.txt)", what, path, SDC_VOCAB_GZ_NAME);
}

sdc_status sdc_vocab_find(const char *model_tokenizer_dir, const char *explicit_path,
                          sdc_vocab_source *out)
{
    if (model_tokenizer_dir && probe(model_tokenizer_dir, out))
        return SDC_OK;
    if (explicit_path)
        return probe(explicit_path, out) ? SDC_OK
                                         : not_a_vocabulary("vocabulary path", explicit_path);
    const char *env = getenv("SDC_VOCAB");
    if (env && env[0])
        return probe(env, out) ? SDC_OK : not_a_vocabulary("SDC_VOCAB", env);
    char user[4096] = "";
    if (sdc_vocab_user_dir(user, sizeof user) == SDC_OK && probe(user, out))
        return SDC_OK;
    return sdc_fail(SDC_ERR_IO, "CLIP vocabulary not found; looked in: %s%s%s$SDC_VOCAB "
                    "(unset), %s; get %s from github.com/openai/CLIP (folder clip/) and put "
                    "it in %s, or pass its path with --vocab or SDC_VOCAB",
                    model_tokenizer_dir ? "the model's tokenizer folder " : "",
                    model_tokenizer_dir ? model_tokenizer_dir : "",
                    model_tokenizer_dir ? ", " : "", user[0] ? user : "(no home folder)",
                    SDC_VOCAB_GZ_NAME, user[0] ? user : "~/.local/share/sdc");
}
