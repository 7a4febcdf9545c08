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
#include "tests/golden.h"
#include "tests/st_write.h"

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
    cr_assert_eq(sdc_embedding_db_load(&db, golden_path("lora/embeddings"), tok, W), SDC_OK,
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
    cr_expect_eq(sdc_embedding_db_load(&db, dir, tok, 64), SDC_OK, "%s", sdc_last_error());
    cr_expect_eq(db.count, 0, "an embedding of width 32 was taken for width 64");
    sdc_embedding_db_free(&db);
    sdc_tensor many = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {80, 64}, .data = data};
    char bad[600];
    snprintf(bad, sizeof bad, "%s/toolong.safetensors", dir);
    st_write(bad, &(st_item){"emb_params", &many}, 1);
    cr_expect_eq(sdc_embedding_db_load(&db, dir, tok, 64), SDC_ERR_FORMAT);
    cr_expect(strstr(sdc_last_error(), "toolong.safetensors"), "%s", sdc_last_error());
    unlink(path);
    unlink(bad);
    rmdir(dir);
    sdc_tokenizer_free(tok);
}
