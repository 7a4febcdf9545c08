/* The JSON files of a diffusers folder. A small folder is built once; the first input byte
 * picks which of its JSON files the rest of the input replaces, the folder is opened, and
 * the file is put back, so every run sees the same folder apart from that one file. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"
#include "weights/checkpoint.h"

/* A safetensors file holding one F32 tensor of 4 elements called `name`. */
static void write_tensor_file(const char *path, const char *name)
{
    char header[256];
    int n = snprintf(header, sizeof header,
                     "{\"%s\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", name);
    while (n % 8)
        header[n++] = ' ';
    uint8_t len[8] = {(uint8_t)n};
    static const float data[4] = {1, 2, 3, 4};
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(len, 1, 8, f) != 8 || fwrite(header, 1, (size_t)n, f) != (size_t)n ||
        fwrite(data, 1, sizeof data, f) != sizeof data || fclose(f) != 0)
        abort();
}

static char root[64];

static const struct {
    const char *name, *text;
} files[] = {
    {"model_index.json", "{\"_class_name\": \"StableDiffusionPipeline\", \"unet\": "
     "[\"diffusers\", \"UNet2DConditionModel\"], \"vae\": [\"diffusers\", \"AutoencoderKL\"], "
     "\"text_encoder\": [\"transformers\", \"CLIPTextModel\"]}"},
    {"scheduler/scheduler_config.json", "{\"prediction_type\": \"v_prediction\"}"},
    {"text_encoder/config.json", "{\"hidden_act\": \"gelu\", \"num_hidden_layers\": 1}"},
    {"tokenizer/special_tokens_map.json", "{\"pad_token\": {\"content\": \"!\"}}"},
    {"tokenizer/vocab.json", "{\"!\": 0, \"<|endoftext|>\": 1}"},
    {"vae/diffusion_pytorch_model.safetensors.index.json",
     "{\"metadata\": {}, \"weight_map\": {\"decoder.conv_in.weight\": "
     "\"diffusion_pytorch_model-00001-of-00001.safetensors\"}}"},
};
enum { FILE_COUNT = sizeof files / sizeof files[0] };

static const char *path_of(const char *rel)
{
    static char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s/%s", root, rel);
    return buf;
}

static void write_text(const char *rel, const void *text, size_t n)
{
    FILE *f = fopen(path_of(rel), "wb");
    if (!f || (n && fwrite(text, 1, n, f) != n) || fclose(f) != 0)
        abort();
}

static const char *const dirs[] = {"unet", "vae", "text_encoder", "tokenizer", "scheduler"};
static const char *const weights[] = {
    "unet/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model-00001-of-00001.safetensors",
    "text_encoder/model.safetensors",
    "tokenizer/merges.txt",
};

/* Removes the folder when the fuzzer or the replay exits. */
static void remove_folder(void)
{
    for (int i = 0; i < FILE_COUNT; i++)
        unlink(path_of(files[i].name));
    for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++)
        unlink(path_of(weights[i]));
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        rmdir(path_of(dirs[i]));
    rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(root, sizeof root, "%s/sdc_fuzz_diffusers_XXXXXX", base);
    if (!mkdtemp(root))
        abort();
    atexit(remove_folder);
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        mkdir(path_of(dirs[i]), 0755);
    write_tensor_file(path_of(weights[0]), "conv_in.weight");
    write_tensor_file(path_of(weights[1]), "decoder.conv_in.weight");
    write_tensor_file(path_of(weights[2]), "text_model.final_layer_norm.weight");
    write_text(weights[3], "#version: 0.2\n", 14);
    for (int i = 0; i < FILE_COUNT; i++)
        write_text(files[i].name, files[i].text, strlen(files[i].text));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % FILE_COUNT;
    write_text(files[which].name, data + 1, size - 1);
    sdc_checkpoint *ck;
    if (sdc_checkpoint_open(root, &ck) == SDC_OK)
        sdc_checkpoint_close(ck);
    write_text(files[which].name, files[which].text, strlen(files[which].text));
    return 0;
}
