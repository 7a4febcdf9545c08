/* Layout mapping and family detection at real model sizes, without real weights: the
 * full-size name manifests (golden/manifests/ TSV files) become sparse safetensors files (the
 * header is real, the data a hole of zeros) laid out as a single file and as a diffusers
 * folder. Both must open with the right family and expose the same internal names with
 * compatible shapes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clip/text_family.h"
#include "tests/golden.h"
#include "weights/checkpoint.h"

typedef struct tsv_tensor {
    char file[64]; /* diffusers sub-path ("unet/diffusion_pytorch_model.safetensors") or "" */
    char name[200];
    char dtype[8];
    int ndim;
    int64_t shape[SDC_MAX_DIMS];
} tsv_tensor;

typedef struct tsv {
    tsv_tensor *items;
    size_t count, capacity;
} tsv;

static void parse_line(char *line, tsv_tensor *t, int diffusers)
{
    char *name = strtok(line, "\t"), *dtype = strtok(NULL, "\t"), *shape = strtok(NULL, "\t\n");
    cr_assert(name && dtype, "bad manifest line");
    memset(t, 0, sizeof *t);
    if (diffusers) {
        char *colon = strchr(name, ':');
        cr_assert(colon);
        *colon = '\0';
        snprintf(t->file, sizeof t->file, "%s", name);
        name = colon + 1;
    }
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->dtype, sizeof t->dtype, "%s", dtype);
    for (char *d = shape ? strtok(shape, ",") : NULL; d; d = strtok(NULL, ","))
        t->shape[t->ndim++] = atoll(d);
}

static void tsv_read(tsv *out, const char *rel, int diffusers)
{
    FILE *f = fopen(golden_path(rel), "r");
    cr_assert(f, "cannot read %s", rel);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        if (out->count == out->capacity) {
            out->capacity = out->capacity ? 2 * out->capacity : 1024;
            out->items = realloc(out->items, out->capacity * sizeof *out->items);
            cr_assert(out->items);
        }
        parse_line(line, &out->items[out->count++], diffusers);
    }
    fclose(f);
}

/* Writes the tensors of `t` whose file is `file` as a sparse safetensors file. */
static void write_sparse(const char *path, const tsv *t, const char *file)
{
    json_t *header = json_object();
    size_t offset = 0;
    for (size_t i = 0; i < t->count; i++) {
        const tsv_tensor *e = &t->items[i];
        if (strcmp(e->file, file) != 0)
            continue;
        json_t *shape = json_array();
        size_t n = strcmp(e->dtype, "I64") == 0 ? 8 : strcmp(e->dtype, "F32") == 0 ? 4 : 0;
        if (strcmp(e->dtype, "I32") == 0)
            n = 4;
        cr_assert(n, "dtype %s", e->dtype);
        for (int d = 0; d < e->ndim; d++) {
            json_array_append_new(shape, json_integer(e->shape[d]));
            n *= (size_t)e->shape[d];
        }
        json_object_set_new(header, e->name,
                            json_pack("{s:s, s:o, s:[I, I]}", "dtype", e->dtype, "shape", shape,
                                      "data_offsets", (json_int_t)offset,
                                      (json_int_t)(offset + n)));
        offset += n;
    }
    char *text = json_dumps(header, JSON_COMPACT);
    size_t len = strlen(text), padded = (len + 7) & ~(size_t)7;
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(lenbuf, 1, 8, f);
    fwrite(text, 1, len, f);
    for (size_t i = len; i < padded; i++)
        fputc(' ', f);
    cr_assert_eq(fflush(f), 0);
    cr_assert_eq(ftruncate(fileno(f), (off_t)(8 + padded + offset)), 0);
    fclose(f);
    free(text);
    json_decref(header);
}

typedef struct full_model {
    const char *name, *family;
    int in_channels, context, text_layers_single, text_layers_folder, text_cond_layers;
    sdc_prediction single_prediction;
} full_model;

static const full_model models[] = {
    {"sd15", "sd1", 4, 768, 12, 12, 12, SDC_PREDICTION_EPS},
    {"sd15-inpainting", "sd1", 9, 768, 12, 12, 12, SDC_PREDICTION_EPS},
    {"sd21-768v", "sd2", 4, 1024, 24, 23, 23, SDC_PREDICTION_V},
    {"sdxl-base", "sdxl", 4, 2048, 12, 12, 11, SDC_PREDICTION_EPS},
};

static void build_single(const char *dir, const full_model *m, char *path, size_t cap)
{
    tsv t = {0};
    char rel[128];
    snprintf(rel, sizeof rel, "manifests/%s-ldm.tsv", m->name);
    tsv_read(&t, rel, 0);
    snprintf(rel, sizeof rel, "manifests/%s-ldm-extra.tsv", m->name);
    tsv_read(&t, rel, 0);
    snprintf(path, cap, "%s/model.safetensors", dir);
    write_sparse(path, &t, "");
    free(t.items);
}

static void build_folder(const char *dir, const full_model *m, char *path, size_t cap)
{
    tsv t = {0};
    char rel[128], file[600];
    snprintf(rel, sizeof rel, "manifests/%s-diffusers.tsv", m->name);
    tsv_read(&t, rel, 1);
    snprintf(path, cap, "%s/diffusers", dir);
    mkdir(path, 0755);
    int xl = strcmp(m->family, "sdxl") == 0;
    snprintf(file, sizeof file, "%s/model_index.json", path);
    FILE *f = fopen(file, "w");
    cr_assert(f);
    fprintf(f, "{\"_class_name\": \"%s\", \"unet\": [\"diffusers\", \"UNet2DConditionModel\"], "
            "\"vae\": [\"diffusers\", \"AutoencoderKL\"], \"text_encoder\": [\"transformers\", "
            "\"CLIPTextModel\"]%s}", xl ? "StableDiffusionXLPipeline" : "StableDiffusionPipeline",
            xl ? ", \"text_encoder_2\": [\"transformers\", \"CLIPTextModelWithProjection\"]" : "");
    fclose(f);
    for (size_t i = 0; i < t.count; i++) {
        if (i > 0 && strcmp(t.items[i].file, t.items[i - 1].file) == 0)
            continue;
        snprintf(file, sizeof file, "%s/%s", path, t.items[i].file);
        *strrchr(file, '/') = '\0';
        mkdir(file, 0755);
        snprintf(file, sizeof file, "%s/%s", path, t.items[i].file);
        if (access(file, F_OK) != 0)
            write_sparse(file, &t, t.items[i].file);
    }
    free(t.items);
}

static int compatible(const sdc_tensor *a, const sdc_tensor *b)
{
    if (sdc_tensor_numel(a) != sdc_tensor_numel(b))
        return 0;
    int n = a->ndim < b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < n; d++)
        if (a->shape[d] != b->shape[d])
            return 0;
    return 1;
}

static void expect_same_names(sdc_checkpoint *folder, sdc_checkpoint *single, sdc_component c,
                              const char *model)
{
    size_t n = sdc_checkpoint_count(folder, c), missing = 0;
    for (size_t i = 0; i < n; i++) {
        const sdc_tensor *a;
        const char *name = sdc_checkpoint_name_at(folder, c, i, &a);
        /* [P, W] in the folder, OpenCLIP's [W, P] "text_projection" in the single file */
        int projection = strcmp(name, "text_projection.weight") == 0;
        const sdc_tensor *b = sdc_checkpoint_get(single, c, projection ? "text_projection" : name);
        if (projection && b) {
            cr_expect(a->shape[0] == b->shape[1] && a->shape[1] == b->shape[0],
                      "%s: text_projection shapes", model);
            continue;
        }
        if (!b && missing++ < 5)
            cr_expect_fail("%s: %s '%s' only in the diffusers folder", model,
                           sdc_component_name(c), name);
        if (b)
            cr_expect(compatible(a, b), "%s: %s '%s' shapes differ", model,
                      sdc_component_name(c), name);
    }
    cr_expect_eq(missing, 0, "%s: %zu %s names missing", model, missing, sdc_component_name(c));
    if (c != SDC_COMPONENT_TEXT)
        cr_expect_eq(sdc_checkpoint_count(single, c), n, "%s %s", model, sdc_component_name(c));
}

static void check_model(const full_model *m, sdc_checkpoint *ck, int folder)
{
    const char *where = folder ? "diffusers" : "single file";
    cr_expect_str_eq(sdc_family_name(sdc_checkpoint_family(ck)), m->family, "%s %s", m->name,
                     where);
    cr_expect_eq(sdc_checkpoint_unet_in_channels(ck), m->in_channels, "%s %s", m->name, where);
    cr_expect_eq(sdc_checkpoint_context_dim(ck), m->context, "%s %s", m->name, where);
    cr_expect_eq(sdc_checkpoint_text_layers(ck), folder ? m->text_layers_folder
                                                        : m->text_layers_single,
                 "%s %s", m->name, where);
    cr_expect_eq(sdc_text_family_of(ck, SDC_COMPONENT_TEXT).cond_layers, m->text_cond_layers,
                 "%s %s", m->name, where);
    if (strcmp(m->family, "sdxl") == 0) /* bigG: 32 layers in both layouts, conditioning on 31 */
        cr_expect_eq(sdc_text_family_of(ck, SDC_COMPONENT_TEXT2).cond_layers, 31, "%s %s",
                     m->name, where);
    /* folders without a scheduler config default to eps */
    cr_expect_eq(sdc_checkpoint_prediction(ck), folder ? SDC_PREDICTION_EPS
                                                       : m->single_prediction,
                 "%s %s", m->name, where);
}

Test(full_size, layouts_and_families)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        const full_model *m = &models[i];
        char dir[] = "/tmp/sdc_test_full_XXXXXX", single_path[256], folder_path[256];
        cr_assert(mkdtemp(dir));
        build_single(dir, m, single_path, sizeof single_path);
        build_folder(dir, m, folder_path, sizeof folder_path);
        sdc_checkpoint *single, *folder;
        cr_assert_eq(sdc_checkpoint_open(single_path, &single), SDC_OK, "%s", sdc_last_error());
        cr_assert_eq(sdc_checkpoint_open(folder_path, &folder), SDC_OK, "%s", sdc_last_error());
        check_model(m, single, 0);
        check_model(m, folder, 1);
        expect_same_names(folder, single, SDC_COMPONENT_UNET, m->name);
        expect_same_names(folder, single, SDC_COMPONENT_VAE, m->name);
        expect_same_names(folder, single, SDC_COMPONENT_TEXT, m->name);
        expect_same_names(folder, single, SDC_COMPONENT_TEXT2, m->name);
        cr_log_info("%s: unet %lld, vae %lld, text %lld parameters; %zu unused in the single "
                    "file", m->name,
                    (long long)sdc_checkpoint_param_count(single, SDC_COMPONENT_UNET),
                    (long long)sdc_checkpoint_param_count(single, SDC_COMPONENT_VAE),
                    (long long)sdc_checkpoint_param_count(single, SDC_COMPONENT_TEXT),
                    sdc_checkpoint_unused_count(single));
        sdc_checkpoint_close(single);
        sdc_checkpoint_close(folder);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_expect_eq(system(cmd), 0);
    }
}
