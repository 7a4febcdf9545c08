/* CLIP tokenizer: every golden case (ids, cleaned text, BPE strings, SD 1.x / 2.x windows)
 * with both vocabulary formats, plus the cleanup rules, malformed input, huge prompts and
 * the vocabulary search and validation errors. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "clip/tokenizer.h"
#include "clip/tokenizer_clean.h"
#include "clip/vocab.h"
#include "ops/error.h"
#include "tests/golden.h"

/* ---- helpers ------------------------------------------------------------------------- */

static const char *gz_path(void)
{
    return vocab_path();
}

/* The folder holding the .gz also holds vocab.json + merges.txt. */
static const char *pair_dir(void)
{
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s", gz_path());
    char *slash = strrchr(dir, '/');
    cr_assert(slash);
    *slash = '\0';
    return dir;
}

static sdc_tokenizer *load(const char *path)
{
    sdc_tokenizer *tok;
    sdc_status st = sdc_tokenizer_load(NULL, path, &tok);
    cr_assert_eq(st, SDC_OK, "loading %s: %s", path, sdc_last_error());
    return tok;
}

static json_t *load_cases(const char *rel)
{
    json_error_t err;
    json_t *root = json_load_file(golden_path(rel), 0, &err);
    cr_assert(root, "%s:%d: %s", rel, err.line, err.text);
    return root;
}

static void expect_window(const sdc_tokenizer *tok, const int32_t *ids, size_t n, int32_t pad,
                          const sdc_safetensors *st, const char *name)
{
    int32_t win[SDC_CLIP_CONTEXT];
    sdc_tokenizer_window(tok, ids, n, pad, win);
    const sdc_st_entry *e = golden_get(st, name);
    cr_assert_eq(sdc_tensor_numel(&e->tensor), SDC_CLIP_CONTEXT);
    long long *want = golden_i64(e);
    for (size_t i = 0; i < SDC_CLIP_CONTEXT; i++)
        cr_expect_eq(win[i], want[i], "%s[%zu]: got %d want %lld", name, i, win[i], want[i]);
    free(want);
}

static void expect_bpe_strings(const sdc_tokenizer *tok, const int32_t *ids, size_t n,
                               json_t *bpe, size_t index)
{
    cr_assert_eq(json_array_size(bpe), n, "case %zu: %zu BPE strings for %zu ids", index,
                 json_array_size(bpe), n);
    for (size_t i = 0; i < n; i++) {
        const char *got = sdc_tokenizer_token_string(tok, ids[i]);
        const char *want = json_string_value(json_array_get(bpe, i));
        cr_expect(got && want && strcmp(got, want) == 0, "case %zu token %zu: '%s' want '%s'",
                  index, i, got ? got : "(null)", want);
    }
}

static void check_case(const sdc_tokenizer *tok, json_t *c, const sdc_safetensors *st)
{
    size_t index = (size_t)json_integer_value(json_object_get(c, "index"));
    const char *text = json_string_value(json_object_get(c, "text"));
    int32_t *ids;
    size_t n;
    cr_assert_eq(sdc_tokenize(tok, text, &ids, &n), SDC_OK, "case %zu: %s", index,
                 sdc_last_error());

    char name[32];
    snprintf(name, sizeof name, "ids.%zu", index);
    const sdc_st_entry *e = golden_get(st, name);
    size_t want_n = (size_t)sdc_tensor_numel(&e->tensor);
    long long *want = golden_i64(e);
    cr_expect_eq(n, want_n, "case %zu: %zu ids, want %zu", index, n, want_n);
    for (size_t i = 0; i < n && i < want_n; i++)
        cr_expect_eq(ids[i], want[i], "case %zu id %zu: got %d want %lld", index, i, ids[i],
                     want[i]);
    free(want);

    json_t *json_ids = json_object_get(c, "ids");
    cr_expect_eq(json_array_size(json_ids), n);
    for (size_t i = 0; i < n && i < json_array_size(json_ids); i++)
        cr_expect_eq(ids[i], json_integer_value(json_array_get(json_ids, i)));

    expect_bpe_strings(tok, ids, n, json_object_get(c, "bpe"), index);
    snprintf(name, sizeof name, "sd1_77.%zu", index);
    expect_window(tok, ids, n, SDC_CLIP_PAD_SD1, st, name);
    snprintf(name, sizeof name, "sd2_77.%zu", index);
    expect_window(tok, ids, n, SDC_CLIP_PAD_SD2, st, name);

    char *clean;
    cr_assert_eq(sdc_tokenizer_clean_text(text, &clean), SDC_OK);
    const char *want_clean = json_string_value(json_object_get(c, "cleaned"));
    cr_expect_str_eq(clean, want_clean, "case %zu cleaned text", index);
    free(clean);
    free(ids);
}

static void check_all_cases(const char *vocab_path)
{
    sdc_tokenizer *tok = load(vocab_path);
    json_t *root = load_cases("tokenizer/cases.json");
    sdc_safetensors *st = golden_open("tokenizer/ids.safetensors");
    json_t *cases = json_object_get(root, "cases");
    cr_assert_gt(json_array_size(cases), 0);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) check_case(tok, c, st);
    /* a second pass goes through the BPE cache */
    json_array_foreach(cases, i, c) check_case(tok, c, st);
    sdc_safetensors_close(st);
    json_decref(root);
    sdc_tokenizer_free(tok);
}

static void expect_clean(const char *text, const char *want)
{
    char *got;
    cr_assert_eq(sdc_tokenizer_clean_text(text, &got), SDC_OK, "%s", sdc_last_error());
    cr_expect_str_eq(got, want, "cleaning '%s'", text);
    free(got);
}

/* ---- golden cases -------------------------------------------------------------------- */

Test(tokenizer, golden_cases_openai_gz) { check_all_cases(gz_path()); }

Test(tokenizer, golden_cases_hf_pair) { check_all_cases(pair_dir()); }

Test(tokenizer, both_vocabulary_formats_are_identical)
{
    sdc_tokenizer *a = load(gz_path()), *b = load(pair_dir());
    cr_expect_str_eq(sdc_tokenizer_source(a), gz_path());
    cr_expect_str_eq(sdc_tokenizer_source(b), pair_dir());
    for (int32_t id = 0; id < 49408; id++) {
        const char *x = sdc_tokenizer_token_string(a, id), *y = sdc_tokenizer_token_string(b, id);
        cr_assert(x && y && strcmp(x, y) == 0, "token %d differs", id);
    }
    cr_expect_null(sdc_tokenizer_token_string(a, 49408));
    cr_expect_eq(sdc_tokenizer_bos(a), 49406);
    cr_expect_eq(sdc_tokenizer_eos(b), 49407);
    cr_expect_eq(sdc_tokenizer_token_id(a, ",</w>"), 267);
    sdc_tokenizer_free(a);
    sdc_tokenizer_free(b);
}

Test(tokenizer, one_tokenizer_shared_by_threads)
{
    sdc_tokenizer *tok = load(gz_path());
    static const char *const prompts[] = {"a photograph of an astronaut", "cat, dog, bird",
                                          "supercalifragilisticexpialidocious", "caf\u00e9"};
    int32_t *first[4];
    size_t first_n[4];
    for (int p = 0; p < 4; p++)
        cr_assert_eq(sdc_tokenize(tok, prompts[p], &first[p], &first_n[p]), SDC_OK);
    int bad = 0;
#pragma omp parallel for reduction(+ : bad)
    for (int k = 0; k < 400; k++) {
        int32_t *ids;
        size_t n;
        int p = k % 4;
        if (sdc_tokenize(tok, prompts[p], &ids, &n) != SDC_OK || n != first_n[p] ||
            memcmp(ids, first[p], n * sizeof *ids) != 0)
            bad++;
        free(ids);
    }
    cr_expect_eq(bad, 0);
    for (int p = 0; p < 4; p++)
        free(first[p]);
    sdc_tokenizer_free(tok);
}

/* ---- cleanup rules (expected values from Python's html / str) ------------------------- */

Test(tokenizer, html_references_follow_python)
{
    /* A literal '<' turns ftfy's unescaping off, leaving html.unescape (twice). */
    expect_clean("<b> &notit; &ampx &#128; &#1; &#0; &#xD800; &#x110000; &#65 &Eacute "
                 "&lang; &amp;lt;",
                 "<b> \u00acit; &x \u20ac \ufffd \ufffd \ufffd a \u00e9 \u27e8 <");
    expect_clean("<p> &AMP; &ETH; &eth &Alpha; &alpha &sigmaf; x&copy2024 &#13;a&#x0d;b",
                 "<p> & \u00f0 \u00f0 \u03b1 &alpha \u03c2 x\u00a92024 a b");
}

Test(tokenizer, ftfy_entities_ligatures_and_controls)
{
    expect_clean("P&EACUTE;REZ &ntilde; &NTILDE; &nTILDE; BUNDESSTRA&SZLIG;E &#59; &#x41; "
                 "&#12ab;",
                 "p\u00e9rez \u00f1 \u00f1 &ntilde; bundesstrasse ; a ab;");
    expect_clean("\u01c4 \u0149 \ufb05 \u201cq\u201d \u02bcx", "d\u017e 'n \u017ft \"q\" 'x");
    expect_clean("a\x1b[31;1mred\x1b[0m b\xc2\x93q\xc2\x94", "ared b\"q\"");
    expect_clean("\xef\xbc\xb5\xef\xbe\x80\xef\xbd\xb0\xef\xbe\x9d", "u\u30bf\u30fc\u30f3");
    expect_clean("line\r\nnext\rlast\xe2\x80\xa8" "end", "line next last end");
    expect_clean("zero\xe2\x80\x8bwidth \xef\xbb\xbf bom", "zero\u200bwidth bom");
}

Test(tokenizer, lower_case_is_python_str_lower)
{
    sdc_u32 in = {0}, out = {0};
    const char *text = "\u039f\u0394\u039f\u03a3. \u03a3\u0391\u03a3 \u03a3 a\u03a3'b \u0130 "
                       "\u01c5 \u2167 \u24d0\u03a3";
    const char *want = "\u03bf\u03b4\u03bf\u03c2. \u03c3\u03b1\u03c2 \u03c3 a\u03c3'b i\u0307 "
                       "\u01c6 \u2177 \u24d0\u03c2";
    cr_assert_eq(sdc_utf8_decode(text, strlen(text), "test", &in), SDC_OK);
    cr_assert_eq(sdc_text_lower(&in, &out), SDC_OK);
    char *got;
    cr_assert_eq(sdc_utf8_encode(out.cp, out.n, &got, NULL), SDC_OK);
    cr_expect_str_eq(got, want);
    free(got);
    sdc_u32_free(&in);
    sdc_u32_free(&out);
}

/* ---- malformed and huge prompts ------------------------------------------------------- */

Test(tokenizer, invalid_utf8_is_an_error)
{
    static const char *const bad[] = {
        "ok \xff", "\xc0\xaf overlong", "\xed\xa0\x80 surrogate", "cut \xe2\x82",
        "\x80 stray", "\xf4\x90\x80\x80 too big", "\xe0\x80\xaf overlong3",
    };
    sdc_tokenizer *tok = load(gz_path());
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int32_t *ids = (int32_t *)&ids;
        size_t n = 7;
        cr_expect_eq(sdc_tokenize(tok, bad[i], &ids, &n), SDC_ERR_ARG, "input %zu", i);
        cr_expect(strstr(sdc_last_error(), "invalid UTF-8"), "%s", sdc_last_error());
        cr_expect_null(ids);
        cr_expect_eq(n, 0);
    }
    cr_expect_eq(sdc_tokenize(tok, NULL, &(int32_t *){0}, &(size_t){0}), SDC_ERR_ARG);
    sdc_tokenizer_free(tok);
}

/* The bytes a token string stands for (byte-level symbols back to bytes, "</w>" dropped). */
static size_t token_bytes(const char *tok, unsigned char *out)
{
    size_t k = 0, len = strlen(tok);
    if (len >= 4 && strcmp(tok + len - 4, "</w>") == 0)
        len -= 4;
    for (size_t i = 0; i < len;) {
        int found = 0;
        for (unsigned b = 0; b < 256 && !found; b++) {
            char sym[4];
            size_t n = sdc_vocab_byte_symbol(b, sym);
            if (i + n <= len && memcmp(tok + i, sym, n) == 0) {
                out[k++] = (unsigned char)b;
                i += n;
                found = 1;
            }
        }
        cr_assert(found, "token '%s' has no byte symbol at %zu", tok, i);
    }
    return k;
}

Test(tokenizer, huge_word_round_trips)
{
    sdc_tokenizer *tok = load(gz_path());
    size_t len = 1 << 20;
    char *word = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        word[i] = "abracadabra"[i % 11];
    word[len] = '\0';
    int32_t *ids;
    size_t n;
    cr_assert_eq(sdc_tokenize(tok, word, &ids, &n), SDC_OK, "%s", sdc_last_error());
    cr_assert_gt(n, 1000);
    unsigned char *back = malloc(len + 64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += token_bytes(sdc_tokenizer_token_string(tok, ids[i]), back + k);
    cr_expect_eq(k, len);
    cr_expect(memcmp(back, word, len) == 0, "BPE pieces do not spell the word");
    free(back);
    free(ids);
    free(word);
    sdc_tokenizer_free(tok);
}

Test(tokenizer, huge_prompt_of_many_words)
{
    sdc_tokenizer *tok = load(gz_path());
    size_t reps = 200000;
    char *text = malloc(reps * 5 + 1);
    for (size_t i = 0; i < reps; i++)
        memcpy(text + i * 5, "cat, ", 5);
    text[reps * 5] = '\0';
    int32_t *ids;
    size_t n;
    cr_assert_eq(sdc_tokenize(tok, text, &ids, &n), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(n, 2 * reps);
    int32_t cat = sdc_tokenizer_token_id(tok, "cat</w>");
    int32_t comma = sdc_tokenizer_token_id(tok, ",</w>");
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += ids[i] != (i % 2 ? comma : cat);
    cr_expect_eq(bad, 0);
    free(ids);
    free(text);
    sdc_tokenizer_free(tok);
}

/* ---- vocabulary search and validation ------------------------------------------------ */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sdc_tok_XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

static const char *tmpfile_path(const char *name)
{
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

static void remove_tmpdir(void)
{
    static const char *const names[] = {"v.gz", "vocab.json", "merges.txt"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        unlink(tmpfile_path(names[i]));
    rmdir(tmpdir);
}

/* The real vocabulary, decompressed. */
static char *real_vocab_text(size_t *len)
{
    gzFile f = gzopen(gz_path(), "rb");
    cr_assert(f);
    size_t cap = 4 << 20;
    char *buf = malloc(cap);
    int got = gzread(f, buf, (unsigned)cap);
    cr_assert_gt(got, 0);
    cr_assert_lt((size_t)got, cap);
    gzclose(f);
    *len = (size_t)got;
    return buf;
}

static void write_gz(const char *path, const char *text, size_t len)
{
    gzFile f = gzopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(gzwrite(f, text, (unsigned)len), (int)len);
    gzclose(f);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void expect_load_error(const char *path, sdc_status want, const char *fragment)
{
    sdc_tokenizer *tok = (sdc_tokenizer *)&tok;
    cr_expect_eq(sdc_tokenizer_load(NULL, path, &tok), want, "%s: %s", path, sdc_last_error());
    cr_expect_null(tok);
    cr_expect(strstr(sdc_last_error(), fragment), "'%s' lacks '%s'", sdc_last_error(),
              fragment);
    cr_expect_null(strchr(sdc_last_error(), '\n'), "the message is one line");
}

Test(vocab, missing_vocabulary_lists_where_it_looked)
{
    make_tmpdir();
    unsetenv("SDC_VOCAB");
    setenv("XDG_DATA_HOME", tmpdir, 1);
    sdc_tokenizer *tok;
    cr_expect_eq(sdc_tokenizer_load(tmpdir, NULL, &tok), SDC_ERR_IO);
    const char *msg = sdc_last_error();
    cr_expect(strstr(msg, "CLIP vocabulary not found"), "%s", msg);
    cr_expect(strstr(msg, SDC_VOCAB_GZ_NAME), "%s", msg);
    cr_expect(strstr(msg, "$SDC_VOCAB"), "%s", msg);
    cr_expect(strstr(msg, tmpfile_path("sdc")), "%s", msg);
    cr_expect(strstr(msg, "github.com/openai/CLIP"), "%s", msg);
    setenv("XDG_DATA_HOME", "", 1);
    setenv("HOME", tmpdir, 1);
    cr_expect_eq(sdc_tokenizer_load(NULL, NULL, &tok), SDC_ERR_IO);
    cr_expect(strstr(sdc_last_error(), ".local/share/sdc"), "%s", sdc_last_error());
    remove_tmpdir();
}

Test(vocab, search_order)
{
    make_tmpdir();
    char gz[4096], pair[4096];
    snprintf(gz, sizeof gz, "%s", gz_path());
    snprintf(pair, sizeof pair, "%s", pair_dir());
    sdc_vocab_source src;
    /* a model folder without vocabulary falls through to the explicit path */
    cr_assert_eq(sdc_vocab_find(tmpdir, gz, &src), SDC_OK);
    cr_expect_eq(src.format, SDC_VOCAB_FORMAT_OPENAI_GZ);
    cr_expect_str_eq(src.path, gz);
    /* the model's own tokenizer folder wins */
    cr_assert_eq(sdc_vocab_find(pair, gz, &src), SDC_OK);
    cr_expect_eq(src.format, SDC_VOCAB_FORMAT_HF_PAIR);
    /* then $SDC_VOCAB (here a folder), then the per-user data folder */
    setenv("SDC_VOCAB", pair, 1);
    cr_assert_eq(sdc_vocab_find(NULL, NULL, &src), SDC_OK);
    cr_expect_str_eq(src.path, pair);
    cr_assert_eq(mkdir(tmpfile_path("sdc"), 0700), 0);
    char link[300];
    snprintf(link, sizeof link, "%s/%s", tmpfile_path("sdc"), SDC_VOCAB_GZ_NAME);
    cr_assert_eq(symlink(gz, link), 0);
    unsetenv("SDC_VOCAB");
    setenv("XDG_DATA_HOME", tmpdir, 1);
    cr_assert_eq(sdc_vocab_find(NULL, NULL, &src), SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(src.format, SDC_VOCAB_FORMAT_OPENAI_GZ);
    cr_expect_str_eq(src.path, link);
    unlink(link);
    rmdir(tmpfile_path("sdc"));
    remove_tmpdir();
}

Test(vocab, explicit_path_without_vocabulary)
{
    make_tmpdir();
    expect_load_error(tmpdir, SDC_ERR_IO, tmpdir);
    expect_load_error("/nonexistent/vocab.gz", SDC_ERR_IO, "/nonexistent/vocab.gz");
    setenv("SDC_VOCAB", "/nonexistent/dir", 1);
    sdc_tokenizer *tok;
    cr_expect_eq(sdc_tokenizer_load(NULL, NULL, &tok), SDC_ERR_IO);
    cr_expect(strstr(sdc_last_error(), "SDC_VOCAB"), "%s", sdc_last_error());
    remove_tmpdir();
}

Test(vocab, truncated_gz)
{
    make_tmpdir();
    FILE *f = fopen(gz_path(), "rb");
    cr_assert(f);
    static char buf[1 << 21];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_file(tmpfile_path("v.gz"), buf, n / 2);
    expect_load_error(tmpfile_path("v.gz"), SDC_ERR_FORMAT, "truncated");
    remove_tmpdir();
}

Test(vocab, gz_with_too_few_merges)
{
    make_tmpdir();
    size_t len;
    char *text = real_vocab_text(&len);
    char *cut = text;
    for (int line = 0; line < 1001; line++)
        cut = strchr(cut, '\n') + 1;
    write_gz(tmpfile_path("v.gz"), text, (size_t)(cut - text));
    expect_load_error(tmpfile_path("v.gz"), SDC_ERR_FORMAT, "has 1000 merge lines");
    free(text);
    remove_tmpdir();
}

Test(vocab, gz_with_malformed_line)
{
    make_tmpdir();
    size_t len;
    char *text = real_vocab_text(&len);
    char *line5 = text;
    for (int line = 0; line < 4; line++)
        line5 = strchr(line5, '\n') + 1;
    char *sp = strchr(line5, ' ');
    *sp = '\n'; /* line 5 loses its second symbol, the file gains a line */
    write_gz(tmpfile_path("v.gz"), text, len);
    expect_load_error(tmpfile_path("v.gz"), SDC_ERR_FORMAT, ":5: malformed merge line");
    free(text);
    remove_tmpdir();
}

static void copy_pair(size_t merges_kept)
{
    size_t len;
    char *text = real_vocab_text(&len);
    char *end = text;
    for (size_t line = 0; line < merges_kept + 1; line++)
        end = strchr(end, '\n') + 1;
    write_file(tmpfile_path("merges.txt"), text, (size_t)(end - text));
    free(text);
    char src[4200];
    snprintf(src, sizeof src, "%s/vocab.json", pair_dir());
    FILE *f = fopen(src, "rb");
    cr_assert(f);
    static char json[4 << 20];
    size_t n = fread(json, 1, sizeof json, f);
    fclose(f);
    write_file(tmpfile_path("vocab.json"), json, n);
}

Test(vocab, hf_pair_counts_must_agree)
{
    make_tmpdir();
    copy_pair(SDC_VOCAB_CLIP_MERGES);
    sdc_tokenizer *tok;
    cr_assert_eq(sdc_tokenizer_load(NULL, tmpdir, &tok), SDC_OK, "%s", sdc_last_error());
    sdc_tokenizer_free(tok);
    copy_pair(1000);
    expect_load_error(tmpdir, SDC_ERR_FORMAT, "merges.txt has 1000 merges");
    remove_tmpdir();
}

Test(vocab, hf_pair_bad_json)
{
    make_tmpdir();
    copy_pair(SDC_VOCAB_CLIP_MERGES);
    write_file(tmpfile_path("vocab.json"), "{\"a\": 1,", 8);
    expect_load_error(tmpfile_path("vocab.json"), SDC_ERR_FORMAT, "vocab.json:1:");
    write_file(tmpfile_path("vocab.json"), "[1, 2]", 6);
    expect_load_error(tmpdir, SDC_ERR_FORMAT, "at least 514 tokens");
    remove_tmpdir();
}
