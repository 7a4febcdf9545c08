/* Textual-inversion embeddings (clip/embeddings.h) against ../shared/golden/lora case
 * ti.tiny-sd1: a .safetensors (emb_params, 3 vectors) and an AUTOMATIC1111 .pt (1 vector)
 * for tiny-sd1; for three prompts (names mid-prompt, repeated, and placeholders that do not
 * fit the first chunk) the chunk ids exactly, the input rows exactly, and the text
 * encoder's output within the manifest's tolerance. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clip/conditioning.h"
#include "clip/embeddings.h"
#include "clip/prompt_chunks.h"
#include "clip/text_family.h"
#include "clip/text_load.h"
#include "ops/dtype.h"
#include "tests/golden.h"
#include "tests/st_write.h"
#include "weights/sha256.h"

static const char *const ID = "ti.tiny-sd1";

Test(textual_inversion, golden_prompts)
{
    sdc_checkpoint *ck;
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sd1/model.safetensors"), &ck),
                 SDC_OK, "%s", sdc_last_error());
    sdc_text_encoder *te;
    cr_assert_eq(sdc_text_encoder_load(ck, &te), SDC_OK, "%s", sdc_last_error());
    sdc_tokenizer *tok;
    const char *dir = sdc_checkpoint_tokenizer_dir(ck);
    cr_assert_eq(sdc_tokenizer_load(dir, dir ? NULL : vocab_path(), &tok), SDC_OK, "%s",
                 sdc_last_error());
    int W = sdc_text_encoder_width(te);
    sdc_embedding_db db;
    cr_assert_eq(sdc_embedding_db_load(&db, golden_path("lora/embeddings"), tok, W, NULL), SDC_OK,
                 "%s", sdc_last_error());
    cr_assert_eq(db.count, 2);
    int pad = sdc_text_family_of(ck, SDC_COMPONENT_TEXT).pad_token;
    sdc_conditioning_params p = {.emphasis = 1, .clip_skip = 1};
    sdc_text_component text = {.tok = tok, .te = te, .final_norm = 1, .pad_id = pad,
                               .embeddings = &db};
    sdc_conditioner *cond;
    cr_assert_eq(sdc_conditioner_create(&text, 1, &p, &cond), SDC_OK, "%s", sdc_last_error());

    json_t *man = golden_set_manifest("lora"), *c, *prompts = NULL;
    size_t i;
    json_array_foreach(json_object_get(man, "cases"), i, c)
        if (strcmp(json_string_value(json_object_get(c, "id")), ID) == 0)
            prompts = json_object_get(c, "prompts");
    cr_assert(json_array_size(prompts) == 3);
    sdc_safetensors *st = golden_open("lora/cases/textual_inversion.safetensors");
    json_t *pr;
    json_array_foreach(prompts, i, pr) {
        const char *prompt = json_string_value(pr);
        char name[48];
        snprintf(name, sizeof name, "ids.%zu", i);
        long long *want_ids = golden_i64(golden_get(st, name));
        sdc_token_chunk *chunks;
        size_t count;
        cr_assert_eq(sdc_prompt_to_chunks_embedded(tok, prompt, pad, 1, &db, &chunks, &count),
                     SDC_OK);
        cr_assert_eq(count * 77, (size_t)golden_get(st, name)->tensor.shape[1], "%s", prompt);
        snprintf(name, sizeof name, "inputs_embeds.%zu", i);
        float *rows = golden_f32(golden_get(st, name));
        for (size_t k = 0; k < count * 77; k++) {
            const sdc_token_chunk *ch = &chunks[k / 77];
            cr_expect_eq(ch->ids[k % 77], want_ids[k], "%s: id %zu", prompt, k);
            const float *v = ch->vectors[k % 77];
            if (v) /* placeholders carry the embedding's vector itself */
                cr_expect(memcmp(v, rows + k * W, (size_t)W * sizeof *v) == 0,
                          "%s: row %zu is not the embedding's vector", prompt, k);
        }
        free(rows);
        free(want_ids);
        free(chunks);
        float *ctx;
        int T;
        cr_assert_eq(sdc_conditioner_encode(cond, prompt, &ctx, &T), SDC_OK, "%s",
                     sdc_last_error());
        snprintf(name, sizeof name, "final.%zu", i);
        expect_close(ctx, golden_get(st, name), golden_set_tol("lora", ID, name), name);
        free(ctx);
    }
    sdc_safetensors_close(st);
    json_decref(man);
    sdc_conditioner_free(cond);
    sdc_embedding_db_free(&db);
    sdc_tokenizer_free(tok);
    sdc_text_encoder_free(te);
    sdc_checkpoint_close(ck);
}

/* An embedding with more vectors than a chunk holds is refused with its file named; one of
 * another width (another text encoder's) is left out. */
Test(textual_inversion, malformed_and_foreign_files)
{
    sdc_tokenizer *tok;
    cr_assert_eq(sdc_tokenizer_load(NULL, vocab_path(), &tok), SDC_OK, "%s", sdc_last_error());
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/test_ti_%d", getenv("SDC_BUILD_DIR"), (int)getpid());
    cr_assert_eq(mkdir(dir, 0700), 0);
    static float data[80 * 64];
    sdc_tensor wide = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {2, 32}, .data = data};
    snprintf(path, sizeof path, "%s/other.safetensors", dir);
    st_write(path, &(st_item){"emb_params", &wide}, 1);
    sdc_embedding_db db;
    cr_expect_eq(sdc_embedding_db_load(&db, dir, tok, 64, NULL), SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(db.count, 0, "an embedding of width 32 was taken for width 64");
    sdc_embedding_db_free(&db);
    sdc_tensor many = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {80, 64}, .data = data};
    char bad[600];
    snprintf(bad, sizeof bad, "%s/toolong.safetensors", dir);
    st_write(bad, &(st_item){"emb_params", &many}, 1);
    cr_expect_eq(sdc_embedding_db_load(&db, dir, tok, 64, NULL), SDC_ERR_FORMAT);
    cr_expect(strstr(sdc_last_error(), "toolong.safetensors"), "%s", sdc_last_error());
    unlink(path);
    unlink(bad);
    rmdir(dir);
    sdc_tokenizer_free(tok);
}

/* What sdc_embeddings_list said of each file (by name). */
typedef struct listed {
    char name[4][32];
    int shape[4], vectors[4], usable[4], error[4], n;
} listed;

static void note(const sdc_embedding_info *info, void *user_data)
{
    listed *l = user_data;
    cr_assert_lt(l->n, 4);
    snprintf(l->name[l->n], sizeof l->name[0], "%s", info->name);
    l->shape[l->n] = info->shape, l->vectors[l->n] = info->vectors;
    l->usable[l->n] = info->usable, l->error[l->n] = info->error != NULL;
    cr_expect(!info->error || strstr(info->error, info->path), "%s", info->error);
    l->n++;
}

/* "shape vectors usable error" of the file `name` as listed for a model with these widths. */
static const char *listing_of(const char *dir, int w0, int w1, const char *name)
{
    static char out[64];
    listed l = {0};
    cr_assert_eq(sdc_embeddings_list(dir, (int[2]){w0, w1}, note, &l), SDC_OK, "%s",
                 sdc_last_error());
    cr_assert_eq(l.n, 4, "%d files listed", l.n);
    for (int i = 0; i < l.n; i++)
        if (strcmp(l.name[i], name) == 0) {
            snprintf(out, sizeof out, "%d %d %d %d", l.shape[i], l.vectors[i], l.usable[i],
                     l.error[i]);
            return out;
        }
    return "not listed";
}

/* The listing follows the loader: a one-encoder model takes single tensors of its width, SDXL
 * the pairs whose parts fit both encoders, its refiner (bigG alone) their clip_g part; an
 * unreadable file, or one with no vectors, is an error naming it. */
Test(textual_inversion, folder_listing_follows_the_loader)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/test_ti_list_%d", getenv("SDC_BUILD_DIR"), (int)getpid());
    cr_assert_eq(mkdir(dir, 0700), 0);
    static float data[4 * 48];
    sdc_tensor one = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {2, 32}, .data = data};
    sdc_tensor l = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {1, 32}, .data = data};
    sdc_tensor g = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {1, 48}, .data = data};
    snprintf(path, sizeof path, "%s/one.safetensors", dir);
    st_write(path, &(st_item){"emb_params", &one}, 1);
    snprintf(path, sizeof path, "%s/pair.safetensors", dir);
    st_write(path, (st_item[]){{"clip_l", &l}, {"clip_g", &g}}, 2);
    snprintf(path, sizeof path, "%s/lora.safetensors", dir);
    st_write(path, (st_item[]){{"a.lora_up.weight", &l}, {"a.lora_down.weight", &g}}, 2);
    snprintf(path, sizeof path, "%s/bad.pt", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("no pickle", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    fclose(fopen(path, "w"));

    cr_expect_str_eq(listing_of(dir, 32, 0, "one"), "32 2 1 0");
    cr_expect_str_eq(listing_of(dir, 64, 0, "one"), "32 2 0 0");
    cr_expect_str_eq(listing_of(dir, 32, 0, "pair"), "80 1 0 0");
    cr_expect_str_eq(listing_of(dir, 32, 48, "pair"), "80 1 1 0");
    cr_expect_str_eq(listing_of(dir, 32, 48, "one"), "32 2 0 0");
    cr_expect_str_eq(listing_of(dir, 0, 48, "pair"), "80 1 1 0");
    cr_expect_str_eq(listing_of(dir, 32, 0, "lora"), "0 0 0 1");
    cr_expect_str_eq(listing_of(dir, 32, 48, "lora"), "0 0 0 1");
    cr_expect_str_eq(listing_of(dir, 32, 0, "bad"), "0 0 0 1");
    cr_expect_eq(sdc_embeddings_list("/nonexistent-sdc", (int[2]){32, 0}, note, NULL), SDC_ERR_IO);
    const char *files[] = {"one.safetensors", "pair.safetensors", "lora.safetensors", "bad.pt",
                           "notes.txt"};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* diffusers' strict mode (no emphasis syntax, one window) puts the placeholders too, in
 * the same places as the emphasis mode for a short prompt; past 75 tokens they are cut off. */
Test(textual_inversion, strict_mode_places_the_vectors)
{
    sdc_tokenizer *tok;
    cr_assert_eq(sdc_tokenizer_load(NULL, vocab_path(), &tok), SDC_OK, "%s", sdc_last_error());
    sdc_embedding_db db;
    cr_assert_eq(sdc_embedding_db_load(&db, golden_path("lora/embeddings"), tok, 64, NULL),
                 SDC_OK, "%s", sdc_last_error());
    sdc_token_chunk *a, *b;
    size_t na, nb;
    const char *prompt = "a sdcstyle picture of a tinyobj";
    cr_assert_eq(sdc_prompt_to_chunks_embedded(tok, prompt, 0, 1, &db, &a, &na), SDC_OK);
    cr_assert_eq(sdc_prompt_to_chunks_embedded(tok, prompt, 0, 0, &db, &b, &nb), SDC_OK);
    cr_assert_eq(na, 1);
    cr_assert_eq(nb, 1);
    int placeholders = 0;
    for (int t = 0; t < SDC_CLIP_CONTEXT; t++) {
        cr_expect_eq(a->ids[t], b->ids[t], "id %d", t);
        cr_expect_eq(a->vectors[t], b->vectors[t], "vector %d", t);
        placeholders += b->vectors[t] != NULL;
    }
    cr_expect_eq(placeholders, 4, "3 + 1 vectors of the two embeddings");
    free(a);
    free(b);
    /* 74 words, then the 3-vector embedding: two of its vectors are cut off */
    char longer[1024] = "";
    for (int i = 0; i < 74; i++)
        strcat(longer, "cat ");
    strcat(longer, "sdcstyle");
    cr_assert_eq(sdc_prompt_to_chunks_embedded(tok, longer, 0, 0, &db, &b, &nb), SDC_OK);
    cr_expect_eq(nb, 1);
    cr_expect_not_null(b->vectors[75]);
    cr_expect_null(b->vectors[76]);
    cr_expect_eq(b->ids[76], sdc_tokenizer_eos(tok));
    free(b);
    sdc_embedding_db_free(&db);
    sdc_tokenizer_free(tok);
}

/* ---- SDXL: clip_l / clip_g pairs -------------------------------------------------------- */

/* [W] copy of token `id`'s input row of text encoder `c` (its token embedding). */
static float *token_row(const sdc_checkpoint *ck, sdc_component c, int32_t id, int *width)
{
    sdc_layer_source src = sdc_text_source(ck, c, NULL);
    const sdc_tensor *t;
    cr_assert_eq(sdc_text_tensor(&src, "text_model.embeddings.token_embedding.weight", NULL, &t),
                 SDC_OK, "%s", sdc_last_error());
    int W = (int)t->shape[1];
    float *all = malloc((size_t)t->shape[0] * W * sizeof *all), *row = malloc(W * sizeof *row);
    cr_assert(all && row);
    sdc_convert_to_f32(all, t->data, t->dtype, (size_t)t->shape[0] * W);
    memcpy(row, all + (size_t)id * W, W * sizeof *row);
    free(all);
    *width = W;
    return row;
}

/* A pair whose parts are each encoder's own input row of the word "cat": on tiny-sdxl the
 * prompt that names the file gives the context and pooled vector of the prompt with "cat",
 * bit for bit, so each encoder took its own part. On a one-encoder model the pair is left
 * out; a pair with unequal vector counts is refused. */
Test(textual_inversion, sdxl_pairs_give_each_encoder_its_part)
{
    sdc_checkpoint *ck;
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sdxl/model.safetensors"), &ck),
                 SDC_OK, "%s", sdc_last_error());
    sdc_tokenizer *tok;
    cr_assert_eq(sdc_tokenizer_load(NULL, vocab_path(), &tok), SDC_OK, "%s", sdc_last_error());
    int32_t *cat;
    size_t n_cat;
    cr_assert_eq(sdc_tokenize(tok, "cat", &cat, &n_cat), SDC_OK);
    cr_assert_eq(n_cat, 1);
    int wl, wg;
    float *l = token_row(ck, SDC_COMPONENT_TEXT, cat[0], &wl);
    float *g = token_row(ck, SDC_COMPONENT_TEXT2, cat[0], &wg);
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/test_ti_xl_%d", getenv("SDC_BUILD_DIR"), (int)getpid());
    cr_assert_eq(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/zqxmeow.safetensors", dir);
    sdc_tensor tl = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {1, wl}, .data = l};
    sdc_tensor tg = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {1, wg}, .data = g};
    st_write(path, (st_item[]){{"clip_l", &tl}, {"clip_g", &tg}}, 2);

    sdc_embedding_db db[2], single;
    cr_assert_eq(sdc_embedding_db_load(&db[0], dir, tok, wl, "clip_l"), SDC_OK, "%s",
                 sdc_last_error());
    cr_assert_eq(sdc_embedding_db_load(&db[1], dir, tok, wg, "clip_g"), SDC_OK, "%s",
                 sdc_last_error());
    cr_assert_eq(db[0].count, 1);
    cr_assert_eq(db[1].count, 1);
    cr_expect_eq(sdc_embedding_db_load(&single, dir, tok, wl, NULL), SDC_OK);
    cr_expect_eq(single.count, 0, "a one-encoder model took an SDXL pair");
    sdc_embedding_db_free(&single);

    sdc_text_encoder *te[2];
    sdc_text_component enc[2];
    for (int k = 0; k < 2; k++) {
        sdc_component c = k ? SDC_COMPONENT_TEXT2 : SDC_COMPONENT_TEXT;
        cr_assert_eq(sdc_text_encoder_load_component(ck, c, &te[k]), SDC_OK, "%s",
                     sdc_last_error());
        sdc_text_family f = sdc_text_family_of(ck, c);
        enc[k] = (sdc_text_component){.tok = tok, .te = te[k], .pad_id = f.pad_token,
                                      .final_norm = f.final_norm, .pooled = k,
                                      .embeddings = &db[k]};
    }
    sdc_conditioning_params p = {.emphasis = 1, .clip_skip = 1};
    sdc_conditioner *cond;
    cr_assert_eq(sdc_conditioner_create(enc, 2, &p, &cond), SDC_OK, "%s", sdc_last_error());
    float *a, *b;
    int na, nb, W = sdc_conditioner_width(cond), PD = sdc_conditioner_pooled_dim(cond);
    cr_assert_eq(sdc_conditioner_encode(cond, "a photo of a cat", &a, &na), SDC_OK);
    cr_assert_eq(sdc_conditioner_encode(cond, "a photo of a zqxmeow", &b, &nb), SDC_OK);
    cr_assert_eq(na, nb);
    cr_expect_eq(memcmp(a, b, (size_t)na * W * sizeof *a), 0, "contexts differ");
    float *pa = malloc(PD * sizeof *pa), *pb = malloc(PD * sizeof *pb);
    cr_assert_eq(sdc_conditioner_pooled(cond, "a photo of a cat", pa), SDC_OK);
    cr_assert_eq(sdc_conditioner_pooled(cond, "a photo of a zqxmeow", pb), SDC_OK);
    cr_expect_eq(memcmp(pa, pb, PD * sizeof *pa), 0, "pooled vectors differ");
    free(a), free(b), free(pa), free(pb);
    sdc_conditioner_free(cond);

    /* unequal vector counts: refused, the file named */
    sdc_tensor tg2 = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {1, wg / 2}, .data = g};
    tl.shape[0] = 2;
    float *l2 = calloc(2 * wl, sizeof *l2);
    tl.data = l2;
    st_write(path, (st_item[]){{"clip_l", &tl}, {"clip_g", &tg2}}, 2);
    sdc_embedding_db_free(&db[0]);
    cr_expect_eq(sdc_embedding_db_load(&db[0], dir, tok, wl, "clip_l"), SDC_ERR_FORMAT);
    cr_expect(strstr(sdc_last_error(), "zqxmeow"), "%s", sdc_last_error());
    free(l2);

    for (int k = 0; k < 2; k++)
        sdc_text_encoder_free(te[k]);
    sdc_embedding_db_free(&db[1]);
    unlink(path);
    rmdir(dir);
    free(l), free(g), free(cat);
    sdc_tokenizer_free(tok);
    sdc_checkpoint_close(ck);
}

/* ---- PNG parameters --------------------------------------------------------------------- */

static void sha12(const char *rel, char out[13])
{
    uint8_t digest[32];
    char hex[65];
    cr_assert_eq(sdc_sha256_file(golden_path(rel), digest), SDC_OK, "%s", sdc_last_error());
    sdc_sha256_hex(digest, hex);
    memcpy(out, hex, 12);
    out[12] = '\0';
}

/* `TI hashes` as AUTOMATIC1111 writes it: the prompt's embeddings in order of use, then the
 * negative prompt's; each the first 12 hex digits of its file's SHA-256. None used: no entry. */
Test(textual_inversion, ti_hashes_in_the_parameters)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = golden_path("models/tiny-sd1/model.safetensors");
    mp.vocab_path = vocab_path();
    sdc_model *m;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    sdc_generate_params p = sdc_generate_default_params();
    p.embd_dir = golden_path("lora/embeddings");
    p.lora_dir = golden_path("lora/loras");
    p.prompt = "a tinyobj in (sdcstyle:1.2), tinyobj <lora:kohya_attn_te:1>";
    p.negative_prompt = "blurry tinyobj";
    char *text;
    cr_assert_eq(sdc_generate_parameters_text(m, &p, &text), SDC_OK, "%s", sdc_last_error());
    char style[13], obj[13], want[200];
    sha12("lora/embeddings/sdcstyle.safetensors", style);
    sha12("lora/embeddings/tinyobj.pt", obj);
    snprintf(want, sizeof want, "TI hashes: \"tinyobj: %s, sdcstyle: %s, tinyobj: %s\"", obj,
             style, obj);
    cr_expect(strstr(text, want), "want %s in: %s", want, text);
    free(text);
    p.prompt = "a plain photo";
    p.negative_prompt = NULL;
    cr_assert_eq(sdc_generate_parameters_text(m, &p, &text), SDC_OK, "%s", sdc_last_error());
    cr_expect(!strstr(text, "TI hashes"), "%s", text);
    free(text);
    sdc_model_free(m);
}
