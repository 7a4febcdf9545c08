/* Writes the seed corpora of tests/fuzz/corpus/<target>/ (run from the repository root:
 * build-x/tests/fuzz/make_corpus tests/fuzz/corpus). Seeds are small and valid, or nearly
 * so, so the fuzzer starts from inputs that reach deep into each reader. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "tests/fuzz/ckpt_build.h"
#include "tests/gguf_build.h"

static const char *root;

static const char *path_of(const char *target, const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", root, target);
    mkdir(buf, 0755);
    snprintf(buf, sizeof buf, "%s/%s/%s", root, target, name);
    return buf;
}

static void write_file(const char *target, const char *name, const void *data, size_t n)
{
    FILE *f = fopen(path_of(target, name), "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(name);
        exit(1);
    }
}

static void write_text(const char *target, const char *name, const char *text)
{
    write_file(target, name, text, strlen(text));
}

/* Reads back a file, for seeds that wrap another seed. */
static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        exit(1);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *data = malloc(*n + 1);
    if (!data || fread(data, 1, *n, f) != *n)
        exit(1);
    fclose(f);
    return data;
}

/* ---- safetensors ---------------------------------------------------------------------- */

static void safetensors_seed_in(const char *target, const char *name, const char *header,
                                const void *data, size_t n)
{
    size_t hlen = strlen(header);
    uint8_t *buf = malloc(8 + hlen + n);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    memcpy(buf + 8 + hlen, data, n);
    write_file(target, name, buf, 8 + hlen + n);
    free(buf);
}

static void safetensors_seed(const char *name, const char *header, const void *data, size_t n)
{
    safetensors_seed_in("safetensors", name, header, data, n);
}

/* ---- TAESD ---------------------------------------------------------------------------- */

/* Appends tensor "<prefix><index>.<leaf>" of F32 [out, in, 3, 3] (in = 0: a bias [out]) to the
 * header at *off bytes of data. */
static void taesd_tensor(char *h, size_t cap, size_t *off, const char *prefix, int index,
                         const char *leaf, int out, int in)
{
    size_t n = (size_t)out * (in ? in * 9 : 1) * 4, used = strlen(h);
    char shape[32];
    snprintf(shape, sizeof shape, in ? "[%d,%d,3,3]" : "[%d]", out, in);
    snprintf(h + used, cap - used, "%s\"%s%d.%s\":{\"dtype\":\"F32\",\"shape\":%s,"
             "\"data_offsets\":[%zu,%zu]}", used > 1 ? "," : "", prefix, index, leaf, shape,
             *off, *off + n);
    *off += n;
}

/* A half given as one letter per layer index: c conv with bias, s conv without (upsampling
 * or stride 2), b block, - empty (ReLU, upsample); channels 1 inside, `in` and `out` at the
 * ends. */
static void taesd_half(char *h, size_t cap, size_t *off, const char *prefix, int first,
                       const char *layers, int in, int out)
{
    for (int i = 0; layers[i]; i++) {
        int ci = i == 0 ? in : 1, co = layers[i + 1] ? 1 : out, index = first + i;
        if (layers[i] == 'b')
            for (int j = 0; j < 6; j += 2) {
                char w[16], b[16];
                snprintf(w, sizeof w, "conv.%d.weight", j);
                snprintf(b, sizeof b, "conv.%d.bias", j);
                taesd_tensor(h, cap, off, prefix, index, w, 1, 1);
                taesd_tensor(h, cap, off, prefix, index, b, 1, 0);
            }
        if (layers[i] == 'c' || layers[i] == 's')
            taesd_tensor(h, cap, off, prefix, index, "weight", co, ci);
        if (layers[i] == 'c')
            taesd_tensor(h, cap, off, prefix, index, "bias", co, 0);
    }
}

/* TAESDs with one channel and one block per level: the diffusers file, the original halves. */
static void taesd_seeds(void)
{
    static const char dec[] = "c-b-sb-sb-sbc", enc[] = "cbsbsbsbc";
    static char h[16384];
    static uint8_t data[8192] = {0, 0, 128, 63};
    size_t off = 0;
    strcpy(h, "{");
    taesd_half(h, sizeof h, &off, "decoder.layers.", 0, dec, 4, 3);
    taesd_half(h, sizeof h, &off, "encoder.layers.", 0, enc, 3, 4);
    strcat(h, "}");
    safetensors_seed_in("taesd", "diffusers.safetensors", h, data, off);
    off = 0;
    strcpy(h, "{");
    taesd_half(h, sizeof h, &off, "", 1, dec, 4, 3);
    strcat(h, "}");
    safetensors_seed_in("taesd", "taesd_decoder.safetensors", h, data, off);
    off = 0;
    strcpy(h, "{");
    taesd_half(h, sizeof h, &off, "", 0, enc, 3, 4);
    strcat(h, "}");
    safetensors_seed_in("taesd", "taesd_encoder.safetensors", h, data, off);
}

/* ControlNets in the three namings (and SDXL ones), cut short (a full net is some 30
 * tensors): the name mapping, the prefix and the loader's first shape checks. */
static void controlnet_seeds(void)
{
    static const uint8_t data[256] = {0, 0, 128, 63};
    safetensors_seed_in("controlnet", "original.safetensors",
                        "{\"time_embed.0.weight\":{\"dtype\":\"F16\",\"shape\":[4,2],"
                        "\"data_offsets\":[0,16]},\"input_blocks.0.0.weight\":{\"dtype\":"
                        "\"F16\",\"shape\":[2,4,1,1],\"data_offsets\":[16,32]},"
                        "\"input_hint_block.0.weight\":{\"dtype\":\"F32\",\"shape\":[1,3,3,3],"
                        "\"data_offsets\":[32,140]},\"zero_convs.0.0.weight\":{\"dtype\":"
                        "\"F16\",\"shape\":[2,2,1,1],\"data_offsets\":[140,148]}}",
                        data, 148);
    safetensors_seed_in("controlnet", "prefixed.safetensors",
                        "{\"control_model.input_hint_block.0.weight\":{\"dtype\":\"F16\","
                        "\"shape\":[1,3,1,1],\"data_offsets\":[0,6]},"
                        "\"control_model.middle_block_out.0.bias\":{\"dtype\":\"F16\","
                        "\"shape\":[2],\"data_offsets\":[6,10]}}",
                        data, 10);
    safetensors_seed_in("controlnet", "diffusers.safetensors",
                        "{\"controlnet_cond_embedding.conv_in.weight\":{\"dtype\":\"F16\","
                        "\"shape\":[1,3,1,1],\"data_offsets\":[0,6]},"
                        "\"controlnet_cond_embedding.blocks.5.bias\":{\"dtype\":\"F16\","
                        "\"shape\":[1],\"data_offsets\":[6,8]},"
                        "\"controlnet_down_blocks.11.weight\":{\"dtype\":\"F16\","
                        "\"shape\":[2,2,1,1],\"data_offsets\":[8,16]},"
                        "\"down_blocks.0.resnets.1.conv1.weight\":{\"dtype\":\"F16\","
                        "\"shape\":[2,2,1,1],\"data_offsets\":[16,24]},"
                        "\"conv_in.weight\":{\"dtype\":\"F16\",\"shape\":[2,4,1,1],"
                        "\"data_offsets\":[24,40]}}",
                        data, 40);
    /* SDXL nets: the label embedding (pooled text + size ids) in both namings */
    safetensors_seed_in("controlnet", "sdxl-original.safetensors",
                        "{\"time_embed.0.weight\":{\"dtype\":\"F16\",\"shape\":[4,2],\"data_o"
                        "ffsets\":[0,16]},\"time_embed.0.bias\":{\"dtype\":\"F16\",\"shape\":"
                        "[4],\"data_offsets\":[16,24]},\"time_embed.2.weight\":{\"dtype\":\"F"
                        "16\",\"shape\":[4,4],\"data_offsets\":[24,56]},\"time_embed.2.bias\""
                        ":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[56,64]},\"label_"
                        "emb.0.0.weight\":{\"dtype\":\"F16\",\"shape\":[4,3],\"data_offsets\""
                        ":[64,88]},\"label_emb.0.0.bias\":{\"dtype\":\"F16\",\"shape\":[4],\""
                        "data_offsets\":[88,96]},\"label_emb.0.2.weight\":{\"dtype\":\"F16\","
                        "\"shape\":[4,4],\"data_offsets\":[96,128]},\"label_emb.0.2.bias\":{\""
                        "dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[128,136]},\"input_hi"
                        "nt_block.0.weight\":{\"dtype\":\"F32\",\"shape\":[1,3,3,3],\"data_of"
                        "fsets\":[136,244]}}",
                        data, 244);
    safetensors_seed_in("controlnet", "sdxl-diffusers.safetensors",
                        "{\"time_embedding.linear_1.weight\":{\"dtype\":\"F16\",\"shape\":[4,"
                        "2],\"data_offsets\":[0,16]},\"time_embedding.linear_1.bias\":{\"dtyp"
                        "e\":\"F16\",\"shape\":[4],\"data_offsets\":[16,24]},\"time_embedding"
                        ".linear_2.weight\":{\"dtype\":\"F16\",\"shape\":[4,4],\"data_offsets"
                        "\":[24,56]},\"time_embedding.linear_2.bias\":{\"dtype\":\"F16\",\"sh"
                        "ape\":[4],\"data_offsets\":[56,64]},\"add_embedding.linear_1.weight\""
                        ":{\"dtype\":\"F16\",\"shape\":[4,3],\"data_offsets\":[64,88]},\"add_"
                        "embedding.linear_1.bias\":{\"dtype\":\"F16\",\"shape\":[4],\"data_of"
                        "fsets\":[88,96]},\"add_embedding.linear_2.weight\":{\"dtype\":\"F16\""
                        ",\"shape\":[4,4],\"data_offsets\":[96,128]},\"add_embedding.linear_2"
                        ".bias\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[128,136]}"
                        ",\"controlnet_cond_embedding.conv_in.weight\":{\"dtype\":\"F16\",\"s"
                        "hape\":[1,3,1,1],\"data_offsets\":[136,142]},\"controlnet_mid_block."
                        "weight\":{\"dtype\":\"F16\",\"shape\":[2,2,1,1],\"data_offsets\":[14"
                        "2,150]}}",
                        data, 150);
}

static void safetensors_seeds(void)
{
    static const uint8_t data[64] = {0, 0, 128, 63, 0, 0, 0, 64};
    safetensors_seed("ldm.safetensors",
                     "{\"__metadata__\":{\"modelspec.prediction_type\":\"v\"},"
                     "\"model.diffusion_model.input_blocks.0.0.weight\":{\"dtype\":\"F32\","
                     "\"shape\":[1,2,1,1],\"data_offsets\":[0,8]},"
                     "\"first_stage_model.decoder.conv_in.weight\":{\"dtype\":\"F16\","
                     "\"shape\":[2,2],\"data_offsets\":[8,16]},"
                     "\"cond_stage_model.transformer.text_model.final_layer_norm.weight\":"
                     "{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[16,24]}}  ",
                     data, 24);
    safetensors_seed("openclip.safetensors",
                     "{\"cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight\":"
                     "{\"dtype\":\"F16\",\"shape\":[6,2],\"data_offsets\":[0,24]},"
                     "\"cond_stage_model.model.transformer.resblocks.0.attn.in_proj_bias\":"
                     "{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[24,48]},"
                     "\"model.diffusion_model.input_blocks.1.1.proj_in.weight\":"
                     "{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[48,64]}}",
                     data, 64);
    safetensors_seed("misaligned.safetensors",
                     "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}",
                     data, 9);
}

/* ---- pickles and checkpoints ---------------------------------------------------------- */

static float storage0[8] = {1, -2, 3.5f, 4, 5, 6, 7, 8};
static uint16_t storage1[4] = {0x3c00, 0xc000, 0x3800, 0};

static void state_dict(ckb_pickle *p)
{
    ckb_op(p, '(');
    ckb_str(p, "model.diffusion_model.a.weight");
    ckb_tensor(p, "FloatStorage", "0", 8, 0, 2, (int64_t[]){2, 3}, NULL);
    ckb_str(p, "first_stage_model.b.bias");
    ckb_global(p, "torch._utils", "_rebuild_parameter");
    ckb_op(p, '(');
    ckb_tensor(p, "HalfStorage", "1", 4, 0, 1, (int64_t[]){4}, NULL);
    ckb_op(p, 0x88);
    ckb_ordered_dict(p);
    ckb_op(p, 't');
    ckb_op(p, 'R');
    ckb_op(p, 'u');
}

static void lightning(ckb_pickle *p)
{
    ckb_op(p, 0x80);
    ckb_op(p, 2);
    ckb_op(p, '}');
    ckb_op(p, 'q');
    ckb_op(p, 0);
    ckb_op(p, '(');
    ckb_str(p, "global_step");
    ckb_int(p, 470000);
    ckb_str(p, "epoch");
    ckb_int(p, 6);
    ckb_str(p, "callbacks");
    ckb_global(p, "pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint");
    ckb_op(p, ')');
    ckb_op(p, 0x81);
    ckb_op(p, '}');
    ckb_str(p, "best_model_score");
    ckb_op(p, 'G');
    ckb_bytes(p, "\x3f\xf0\0\0\0\0\0\0", 8);
    ckb_op(p, 's');
    ckb_op(p, 'b');
    ckb_str(p, "state_dict");
    ckb_ordered_dict(p);
    ckb_op(p, 'q');
    ckb_op(p, 1);
    state_dict(p);
    ckb_op(p, 'u');
    ckb_op(p, '.');
}

/* Protocol 4: FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE, BINGET. */
static void protocol4(ckb_pickle *p)
{
    ckb_op(p, 0x80);
    ckb_op(p, 4);
    ckb_op(p, 0x95);
    ckb_bytes(p, "\x40\0\0\0\0\0\0\0", 8);
    ckb_op(p, '}');
    ckb_op(p, 0x94);
    ckb_op(p, 0x8c);
    ckb_op(p, 11);
    ckb_bytes(p, "collections", 11);
    ckb_op(p, 0x94);
    ckb_op(p, 0x8c);
    ckb_op(p, 11);
    ckb_bytes(p, "OrderedDict", 11);
    ckb_op(p, 0x94);
    ckb_op(p, 0x93);
    ckb_op(p, 0x94);
    ckb_op(p, ')');
    ckb_op(p, 'R');
    ckb_op(p, 'h');
    ckb_op(p, 0);
    ckb_op(p, '(');
    ckb_str(p, "k");
    ckb_op(p, 0x8a);
    ckb_op(p, 2);
    ckb_bytes(p, "\xff\x7f", 2);
    ckb_op(p, 0x8f);
    ckb_op(p, '(');
    ckb_op(p, 'K');
    ckb_op(p, 1);
    ckb_op(p, 0x90);
    ckb_op(p, 'u');
    ckb_op(p, '.');
}

static void pickle_seeds(void)
{
    ckb_pickle p = {0};
    lightning(&p);
    write_file("pickle", "lightning.pkl", p.data, p.len);
    static const ckb_member members[] = {{"data/0", storage0, sizeof storage0, 0},
                                         {"data/1", storage1, sizeof storage1, 0}};
    ckb_write_zip(path_of("ckpt", "stored.ckpt"), "archive", &p, members, 2);
    static const ckb_member deflated[] = {{"data/0", storage0, sizeof storage0, 1},
                                          {"data/1", storage1, sizeof storage1, 1}};
    ckb_write_zip(path_of("ckpt", "deflated.ckpt"), "model", &p, deflated, 2);
    ckb_free(&p);
    protocol4(&p);
    write_file("pickle", "protocol4.pkl", p.data, p.len);
    ckb_free(&p);
    ckb_op(&p, 0x80);
    ckb_op(&p, 2);
    ckb_global(&p, "os", "system");
    ckb_str(&p, "true");
    ckb_op(&p, 0x85);
    ckb_op(&p, 'R');
    ckb_op(&p, '.');
    write_file("pickle", "refused.pkl", p.data, p.len);
    ckb_free(&p);
}

/* ---- images --------------------------------------------------------------------------- */

/* A 6x5 PNG of `color_type` (bit depth 8 or 16) with optional text chunks. */
static void png_seed(const char *target, const char *name, int color_type, int depth,
                     int with_text)
{
    FILE *f = fopen(path_of(target, name), "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!f || !png || !info || setjmp(png_jmpbuf(png)))
        exit(1);
    png_init_io(png, f);
    int w = 6, h = 5;
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color palette[2] = {{0, 0, 0}, {255, 128, 0}};
        png_set_PLTE(png, info, palette, 2);
    }
    if (with_text) {
        png_text text[3] = {
            {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "parameters",
             .text = "a fox\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, Seed: 42"},
            {.compression = PNG_TEXT_COMPRESSION_zTXt, .key = "Comment", .text = "zipped"},
            {.compression = PNG_ITXT_COMPRESSION_NONE, .key = "Title", .text = "\xc3\xa9t\xc3\xa9"},
        };
        png_set_text(png, info, text, 3);
    }
    png_write_info(png, info);
    int channels = png_get_channels(png, info);
    uint8_t row[6 * 4 * 2];
    for (int y = 0; y < h; y++) {
        for (size_t i = 0; i < sizeof row; i++)
            row[i] = (uint8_t)(color_type == PNG_COLOR_TYPE_PALETTE ? (i + y) & 1 : i * 37 + y * 11);
        (void)channels;
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static void image_seeds(void)
{
    uint8_t px[6 * 5 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 29);
    sdc_image rgb = {6, 5, 3, px}, gray = {6, 5, 1, px};
    sdc_image_write(path_of("image", "rgb.jpg"), &rgb, NULL, 1);
    sdc_image_write(path_of("image", "gray.jpg"), &gray, NULL, 1);
    sdc_image_write(path_of("image", "rgb.bmp"), &rgb, NULL, 1);
    png_seed("image", "rgba.png", PNG_COLOR_TYPE_RGB_ALPHA, 8, 0);
    png_seed("image", "gray_alpha16.png", PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0);
    png_seed("image", "palette.png", PNG_COLOR_TYPE_PALETTE, 8, 0);
    png_seed("image", "rgb16.png", PNG_COLOR_TYPE_RGB, 16, 0);
    png_seed("metadata", "parameters.png", PNG_COLOR_TYPE_RGB, 8, 1);
    sdc_image_write(path_of("metadata", "written.png"), &rgb, "a cat\nSteps: 4, Seed: 1", 1);

    /* masks: 4 bytes of size / blur / invert, then the image */
    static const char *const sources[] = {"rgba.png", "gray_alpha16.png", "gray.jpg"};
    for (int i = 0; i < 3; i++) {
        size_t n;
        char src[512];
        snprintf(src, sizeof src, "%s/image/%s", root, sources[i]);
        uint8_t *data = slurp(src, &n);
        uint8_t *seed = malloc(n + 4);
        seed[0] = (uint8_t)(7 + i * 20);
        seed[1] = (uint8_t)(4 + i * 9);
        seed[2] = (uint8_t)(i * 3);
        seed[3] = (uint8_t)i;
        memcpy(seed + 4, data, n);
        char name[64];
        snprintf(name, sizeof name, "mask_%s", sources[i]);
        write_file("mask", name, seed, n + 4);
        free(seed);
        free(data);
    }
}

/* ---- text inputs ---------------------------------------------------------------------- */

static void text_seeds(void)
{
    static const char *const prompts[] = {
        "a (red:1.3) fox, [blurry], ((masterpiece)) BREAK castle \\(detail\\)",
        "(((nested [mixed (0.5:2)]))) (unclosed [also",
        "(x:1.2.3) weight that is no number",
        "caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac &amp; &lt;tag&gt; \xf0\x9f\xa6\x8a",
        "   spaces\tand\nnewlines  don't 'quote' it's 1,234.5  ",
    };
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "prompt%d.txt", i);
        write_text("prompt_attention", name, prompts[i]);
        write_text("tokenizer", name, prompts[i]);
    }
    /* first byte: steps and the hires rule (tests/fuzz/fuzz_prompt_schedule.c) */
    static const char *const schedules[] = {
        "\x13" "a [red cube:blue sphere:3] on a table, [cat|dog|] [(a:1.2)::0.5]",
        "\x47[[cat|dog]:bird:4] [x:y:12] [a:b:1.5] AND castle :0.6",
        "\x0a((a][:b:c [d:3] \\[not:3\\] [a:b:-2] [a:b:1e0] [fe|||]male",
        "\x05[a:[b:[c:[d:[e|f|g]:1]:2]:3]:4] one AND AND two :1e2 AND x:-0.3",
        "\x3f" "a | rejected [a:b:2] ends in \\",
    };
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "schedule%d.txt", i);
        write_text("prompt_schedule", name, schedules[i]);
    }
    write_text("jobfile", "jobs.jsonl",
               "# comment\n{\"prompt\": \"a fox\", \"seed\": 7, \"cfg-scale\": 5}\n\n"
               "{\"prompt\": \"a cat\", \"steps\": 4, \"width\": 64, \"height\": 64, "
               "\"output\": \"cat_{index}.png\", \"batch-count\": 2}\n");
    write_text("jobfile", "prompts.txt", "a fox in the snow\n# skipped\nan owl, (detailed:1.2)\n");
    write_text("jobfile", "bad.jsonl", "{\"prompt\": 3}\n{\"seed\": \"x\"}\n{broken\n");
}

/* Selector byte (which JSON file of the folder) + the file. */
static void diffusers_seeds(void)
{
    static const char *const texts[] = {
        "{\"_class_name\": \"StableDiffusionPipeline\", \"unet\": [\"diffusers\", "
        "\"UNet2DConditionModel\"], \"vae\": [\"diffusers\", \"AutoencoderKL\"]}",
        "{\"prediction_type\": \"epsilon\", \"steps_offset\": 1}",
        "{\"hidden_act\": \"quick_gelu\"}",
        "{\"pad_token\": \"<|endoftext|>\"}",
        "{\"!\": 0, \"<|endoftext|>\": 49407}",
        "{\"weight_map\": {\"decoder.conv_in.weight\": "
        "\"diffusion_pytorch_model-00001-of-00001.safetensors\", \"x\": \"../../etc/passwd\"}}",
    };
    for (int i = 0; i < 6; i++) {
        char name[32], buf[512];
        snprintf(name, sizeof name, "file%d.json", i);
        buf[0] = (char)i;
        size_t n = strlen(texts[i]);
        memcpy(buf + 1, texts[i], n);
        write_file("diffusers_config", name, buf, n + 1);
    }
}

/* ---- gguf ----------------------------------------------------------------------------- */

/* One tensor of each readable block type ("k" 256 wide), zero data but a half scale of 1. */
static void gguf_types_seed(void)
{
    static const struct { uint32_t type; size_t block_bytes; int block; } t[] = {
        {2, 18, 32}, {3, 20, 32}, {6, 22, 32}, {7, 24, 32}, {8, 34, 32}, {10, 84, 256},
        {11, 110, 256}, {12, 144, 256}, {13, 176, 256}, {14, 210, 256}, {30, 2, 1}, {1, 2, 1},
    };
    enum { N = sizeof t / sizeof *t };
    gguf_build b = {0};
    gb_header(&b, 3, N, 2);
    gb_str(&b, "general.alignment");
    gb_u32(&b, 4); /* u32 */
    gb_u32(&b, 32);
    gb_str(&b, "sd.list");
    gb_u32(&b, 9); /* array of strings */
    gb_u32(&b, 8);
    gb_u64(&b, 2);
    gb_str(&b, "a");
    gb_str(&b, "b");
    uint64_t offset = 0;
    for (int i = 0; i < N; i++) {
        char name[64];
        snprintf(name, sizeof name, "model.diffusion_model.t%d.weight", i);
        gb_tensor(&b, name, 1, (const uint64_t[]){256}, t[i].type, offset);
        offset += (256 / t[i].block * t[i].block_bytes + 31) / 32 * 32;
    }
    gb_pad(&b, 32);
    for (int i = 0; i < N; i++) {
        size_t n = (256 / t[i].block * t[i].block_bytes + 31) / 32 * 32;
        for (size_t k = 0; k < n; k++)
            gb_bytes(&b, (const uint8_t[]){(uint8_t)(k * 37)}, 1);
    }
    write_file("gguf", "types.gguf", b.buf, b.len);
    gb_free(&b);
}

static void gguf_seeds(void)
{
    gguf_build b;
    gb_example(&b);
    write_file("gguf", "example.gguf", b.buf, b.len);
    gb_free(&b);
    gguf_types_seed();
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus DIR\n");
        return 2;
    }
    root = argv[1];
    mkdir(root, 0755);
    safetensors_seeds();
    gguf_seeds();
    controlnet_seeds();
    taesd_seeds();
    pickle_seeds();
    image_seeds();
    text_seeds();
    diffusers_seeds();
    return 0;
}
