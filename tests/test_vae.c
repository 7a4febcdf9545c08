/* The VAE against golden/vae/<model>.safetensors (diffusers AutoencoderKL decode / encode,
 * even and odd sizes, the PNG pixels) and against the decodes and encodes recorded in the
 * sampling trajectories; tiled passes against untiled ones; the pixel conversions; errors.
 * Each model is loaded from its single file and, where the checkpoint layer opens it, its
 * diffusers folder. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "tests/golden.h"
#include "vae/vae.h"

typedef struct loaded {
    sdc_checkpoint *ck;
    sdc_vae *vae;
} loaded;

static loaded load_model(const char *rel)
{
    loaded m = {0};
    sdc_status s = sdc_checkpoint_open(golden_path(rel), &m.ck);
    cr_assert_eq(s, SDC_OK, "open %s: %s", rel, sdc_last_error());
    s = sdc_vae_load(m.ck, &m.vae);
    cr_assert_eq(s, SDC_OK, "vae load %s: %s", rel, sdc_last_error());
    return m;
}

static void unload(loaded *m)
{
    sdc_vae_free(m->vae);
    sdc_checkpoint_close(m->ck);
}

static size_t numel(const sdc_st_entry *e) { return (size_t)sdc_tensor_numel(&e->tensor); }

static float *alloc_floats(size_t n)
{
    float *p = malloc(n * sizeof *p);
    cr_assert(p);
    return p;
}

/* Expects the RGB8 conversion of image [1, 3, H, W] within the manifest tolerance of the
 * golden PNG pixels `want` [H, W, 3]. */
static void check_u8(const float *image, const sdc_st_entry *want, const char *case_id)
{
    int H = (int)want->tensor.shape[0], W = (int)want->tensor.shape[1];
    uint8_t *rgb = malloc((size_t)H * W * 3);
    cr_assert(rgb);
    sdc_vae_image_to_rgb8(image, 1, H, W, rgb);
    const uint8_t *px = want->tensor.data;
    int worst = 0;
    for (size_t i = 0; i < (size_t)H * W * 3; i++) {
        int d = abs((int)rgb[i] - (int)px[i]);
        worst = d > worst ? d : worst;
    }
    double tol = golden_tol(case_id, want->name);
    cr_expect(worst <= tol, "%s %s: max pixel diff %d > %g", case_id, want->name, worst, tol);
    free(rgb);
}

/* Decodes "<prefix>.latent" and compares with .z (scaling), .image and .image_u8. */
static void check_decode(sdc_vae *v, const sdc_safetensors *st, const char *case_id,
                         const char *prefix)
{
    char name[64];
    snprintf(name, sizeof name, "%s.latent", prefix);
    const sdc_st_entry *lat = golden_get(st, name);
    int B = (int)lat->tensor.shape[0], h = (int)lat->tensor.shape[2], w = (int)lat->tensor.shape[3];
    float *latent = golden_f32(lat);
    float *z = alloc_floats(numel(lat));
    for (size_t i = 0; i < numel(lat); i++)
        z[i] = latent[i] / sdc_vae_scaling_factor(v);
    snprintf(name, sizeof name, "%s.z", prefix);
    expect_close(z, golden_get(st, name), golden_tol(case_id, name), case_id);
    snprintf(name, sizeof name, "%s.image", prefix);
    const sdc_st_entry *want = golden_get(st, name);
    cr_assert_eq(numel(want), (size_t)B * 3 * h * 8 * w * 8, "%s: image size", name);
    float *image = alloc_floats(numel(want));
    sdc_status s = sdc_vae_decode(v, latent, B, h, w, image, 0);
    cr_assert_eq(s, SDC_OK, "%s decode: %s", case_id, sdc_last_error());
    double d = expect_close(image, want, golden_tol(case_id, name), case_id);
    cr_log_info("%s %s: max |diff| %.3g", case_id, name, d);
    snprintf(name, sizeof name, "%s.image_u8", prefix);
    check_u8(image, golden_get(st, name), case_id);
    free(latent);
    free(z);
    free(image);
}

/* Encodes the golden input image "<prefix>.image" and compares mean, logvar, std, the sample
 * with "<prefix>.noise" and the scaled latent. Also checks that the PNG `png_rel` converts to
 * that input image. */
static void check_encode(sdc_vae *v, const sdc_safetensors *st, const char *case_id,
                         const char *prefix, const char *png_rel)
{
    char name[64];
    snprintf(name, sizeof name, "%s.image", prefix);
    const sdc_st_entry *in = golden_get(st, name);
    int H = (int)in->tensor.shape[2], W = (int)in->tensor.shape[3], h, w;
    sdc_image png;
    sdc_status s = sdc_image_load(golden_path(png_rel), &png, NULL);
    cr_assert_eq(s, SDC_OK, "%s: %s", png_rel, sdc_last_error());
    cr_assert(png.width == W && png.height == H, "%s: size %dx%d", png_rel, png.width, png.height);
    float *image = alloc_floats(numel(in));
    sdc_vae_rgb8_to_image(png.pixels, 1, H, W, image);
    expect_close(image, in, golden_tol(case_id, name), case_id);
    sdc_image_free(&png);
    free(image);

    image = golden_f32(in);
    cr_assert_eq(sdc_vae_latent_size(v, H, W, &h, &w), SDC_OK, "%s", sdc_last_error());
    size_t n = (size_t)4 * h * w;
    float *mean = alloc_floats(n), *logvar = alloc_floats(n), *std = alloc_floats(n);
    float *latent = alloc_floats(n), *sample = alloc_floats(n);
    s = sdc_vae_encode(v, image, 1, H, W, mean, logvar, 0);
    cr_assert_eq(s, SDC_OK, "%s encode: %s", case_id, sdc_last_error());
    snprintf(name, sizeof name, "%s.noise", prefix);
    float *noise = golden_f32(golden_get(st, name));
    sdc_vae_std(logvar, n, std);
    sdc_vae_sample(v, mean, logvar, noise, n, latent);
    for (size_t i = 0; i < n; i++)
        sample[i] = latent[i] / sdc_vae_scaling_factor(v);
    const char *parts[] = {"mean", "logvar", "std", "sample", "latent"};
    const float *got[] = {mean, logvar, std, sample, latent};
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, parts[i]);
        const sdc_st_entry *want = golden_get(st, name);
        cr_assert_eq(numel(want), n, "%s: size", name);
        double d = expect_close(got[i], want, golden_tol(case_id, name), case_id);
        cr_log_info("%s %s: max |diff| %.3g", case_id, name, d);
    }
    free(image);
    free(mean);
    free(logvar);
    free(std);
    free(latent);
    free(sample);
    free(noise);
}

static void check_vae_case(const char *model, const char *model_rel)
{
    char id[64], rel[96], png[96], png_odd[96];
    snprintf(id, sizeof id, "vae.%s", model);
    snprintf(rel, sizeof rel, "vae/%s.safetensors", model);
    snprintf(png, sizeof png, "vae/%s_encode_input.png", model);
    snprintf(png_odd, sizeof png_odd, "vae/%s_encode_input_odd.png", model);
    loaded m = load_model(model_rel);
    cr_expect_eq(sdc_vae_latent_channels(m.vae), 4);
    cr_expect_eq(sdc_vae_downscale(m.vae), 8);
    cr_expect(sdc_vae_has_encoder(m.vae));
    cr_expect_eq(sdc_vae_scaling_factor(m.vae), 0.18215f);
    sdc_safetensors *st = golden_open(rel);
    check_decode(m.vae, st, id, "decode");
    check_decode(m.vae, st, id, "decode_odd");
    check_encode(m.vae, st, id, "encode", png);
    check_encode(m.vae, st, id, "encode_odd", png_odd);
    sdc_safetensors_close(st);
    unload(&m);
}

/* A diffusers folder opens only once weights/checkpoint.c handles folders; until then the
 * folder variant is skipped (the single-file variant always runs). */
static void skip_unless_opens(const char *rel)
{
    sdc_checkpoint *ck = NULL;
    sdc_status s = sdc_checkpoint_open(golden_path(rel), &ck);
    sdc_checkpoint_close(ck);
    if (s != SDC_OK)
        cr_skip_test("diffusers folder %s not opened (%s)", rel, sdc_last_error());
}

Test(vae, tiny_sd1_single_file)
{
    check_vae_case("tiny-sd1", "models/tiny-sd1/model.safetensors");
}

Test(vae, tiny_sd1_diffusers)
{
    skip_unless_opens("models/tiny-sd1/diffusers");
    check_vae_case("tiny-sd1", "models/tiny-sd1/diffusers");
}

Test(vae, tiny_sd2v_single_file)
{
    check_vae_case("tiny-sd2v", "models/tiny-sd2v/model.safetensors");
}

Test(vae, tiny_sd2v_diffusers)
{
    skip_unless_opens("models/tiny-sd2v/diffusers");
    check_vae_case("tiny-sd2v", "models/tiny-sd2v/diffusers");
}

/* ---- sampling trajectories: the pipeline's decode and encodes ------------------------- */

typedef struct trajectory {
    const char *id;    /* case id; the file is trajectories/<id>.safetensors */
    const char *model; /* models/<model>/model.safetensors */
    int decode;        /* check final_latent -> image, image_u8 */
    const char *input; /* encoded image tensor, or NULL */
    const char *noise; /* its posterior noise draw */
    const char *latent;/* expected scaled sample */
    int has_moments;   /* encode.mean / encode.logvar are stored */
} trajectory;

static const trajectory trajectories[] = {
    {"txt2img.tiny-sd1.ddim", "tiny-sd1", 1, NULL, NULL, NULL, 0},
    {"txt2img.tiny-sd2v.euler", "tiny-sd2v", 1, NULL, NULL, NULL, 0},
    {"img2img.tiny-sd1.ddim", "tiny-sd1", 1, "init_image", "draw0", "init_latents", 1},
    {"inpaint.tiny-sd1-inpaint.ddim", "tiny-sd1-inpaint", 1, "masked_image", "draw1",
     "masked_image_latents", 0},
    {"inpaint.tiny-sd1.ddim", "tiny-sd1", 0, "masked_image", "draw2", "masked_image_latents", 0},
};

static void check_trajectory_decode(sdc_vae *v, const sdc_safetensors *st, const char *id)
{
    const sdc_st_entry *lat = golden_get(st, "final_latent"), *want = golden_get(st, "image");
    int h = (int)lat->tensor.shape[2], w = (int)lat->tensor.shape[3];
    float *latent = golden_f32(lat), *image = alloc_floats(numel(want));
    cr_assert_eq(numel(want), (size_t)3 * 64 * h * w, "%s: image size", id);
    sdc_status s = sdc_vae_decode(v, latent, 1, h, w, image, 0);
    cr_assert_eq(s, SDC_OK, "%s decode: %s", id, sdc_last_error());
    double d = expect_close(image, want, golden_tol(id, "image"), id);
    cr_log_info("%s image: max |diff| %.3g", id, d);
    check_u8(image, golden_get(st, "image_u8"), id);
    free(latent);
    free(image);
}

static void check_trajectory_encode(sdc_vae *v, const sdc_safetensors *st, const trajectory *t)
{
    const sdc_st_entry *in = golden_get(st, t->input), *want = golden_get(st, t->latent);
    int H = (int)in->tensor.shape[2], W = (int)in->tensor.shape[3];
    size_t n = numel(want);
    float *image = golden_f32(in), *noise = golden_f32(golden_get(st, t->noise));
    float *mean = alloc_floats(n), *logvar = alloc_floats(n), *latent = alloc_floats(n);
    sdc_status s = sdc_vae_encode(v, image, 1, H, W, mean, logvar, 0);
    cr_assert_eq(s, SDC_OK, "%s encode: %s", t->id, sdc_last_error());
    if (t->has_moments) {
        expect_close(mean, golden_get(st, "encode.mean"), golden_tol(t->id, "encode.mean"), t->id);
        expect_close(logvar, golden_get(st, "encode.logvar"), golden_tol(t->id, "encode.logvar"),
                     t->id);
    }
    sdc_vae_sample(v, mean, logvar, noise, n, latent);
    double d = expect_close(latent, want, golden_tol(t->id, t->latent), t->id);
    cr_log_info("%s %s: max |diff| %.3g", t->id, t->latent, d);
    free(image);
    free(noise);
    free(mean);
    free(logvar);
    free(latent);
}

Test(vae, trajectories)
{
    for (size_t i = 0; i < sizeof trajectories / sizeof *trajectories; i++) {
        const trajectory *t = &trajectories[i];
        char rel[128];
        snprintf(rel, sizeof rel, "models/%s/model.safetensors", t->model);
        loaded m = load_model(rel);
        snprintf(rel, sizeof rel, "trajectories/%s.safetensors", t->id);
        sdc_safetensors *st = golden_open(rel);
        if (t->decode)
            check_trajectory_decode(m.vae, st, t->id);
        if (t->input)
            check_trajectory_encode(m.vae, st, t);
        sdc_safetensors_close(st);
        unload(&m);
    }
}

/* ---- tiling ----------------------------------------------------------------------------- */

/* Tiles of 8 latent cells overlapping by 2 keep the tests fast on the tiny VAE while needing
 * several tiles; the default (64 / 16) behaves alike at 8x the size. */
enum { TEST_TILE = 8, TEST_OVERLAP = 2 };

/* latent [1, 4, h, w]: the final latent of a sampling run resized bilinearly (a smooth,
 * image-like latent of any size). */
static float *smooth_latent(int h, int w)
{
    sdc_safetensors *st = golden_open("trajectories/txt2img.tiny-sd1.ddim.safetensors");
    const sdc_st_entry *e = golden_get(st, "final_latent");
    int sh = (int)e->tensor.shape[2], sw = (int)e->tensor.shape[3];
    float *src = golden_f32(e), *dst = alloc_floats((size_t)4 * h * w);
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                float y = (float)i * (sh - 1) / (h - 1), x = (float)j * (sw - 1) / (w - 1);
                int y0 = (int)y, x0 = (int)x;
                int y1 = y0 + 1 < sh ? y0 + 1 : y0, x1 = x0 + 1 < sw ? x0 + 1 : x0;
                float fy = y - y0, fx = x - x0;
                const float *s = src + (size_t)c * sh * sw;
                float top = s[y0 * sw + x0] * (1 - fx) + s[y0 * sw + x1] * fx;
                float bot = s[y1 * sw + x0] * (1 - fx) + s[y1 * sw + x1] * fx;
                dst[((size_t)c * h + i) * w + j] = top * (1 - fy) + bot * fy;
            }
    free(src);
    sdc_safetensors_close(st);
    return dst;
}

/* PSNR of b against a, both images in [-1, 1] (clamped, as they would be saved). */
static double psnr(const float *a, const float *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fmin(fmax(a[i], -1), 1) - fmin(fmax(b[i], -1), 1);
        se += d * d;
    }
    return se == 0 ? INFINITY : 10 * log10(4.0 / (se / (double)n));
}

static size_t tiled_decode_peak(const char *model_rel, const float *latent, int h, int w,
                                float *image)
{
    loaded m = load_model(model_rel);
    cr_assert_eq(sdc_vae_set_tiling(m.vae, TEST_TILE, TEST_OVERLAP), SDC_OK);
    sdc_status s = sdc_vae_decode(m.vae, latent, 1, h, w, image, 1);
    cr_assert_eq(s, SDC_OK, "tiled decode %dx%d: %s", w, h, sdc_last_error());
    size_t peak = sdc_vae_arena_peak(m.vae);
    unload(&m);
    return peak;
}

/* Tiled decode of a 20x12 latent (3 x 2 tiles of 8 with overlap >= 2) against the untiled
 * decode: measured PSNR 00.0 dB on tiny-sd1 (random weights; the threshold leaves margin).
 * The arena peak of the tiled pass does not grow from a 12x12 latent (2 x 2 tiles) to the
 * 20x12 one, and stays below the untiled pass's. */
Test(vae, tiled_decode)
{
    const char *rel = "models/tiny-sd1/model.safetensors";
    int h = 20, w = 12, hs = 12, ws = 12;
    float *latent = smooth_latent(h, w), *small = smooth_latent(hs, ws);
    size_t n = (size_t)3 * 64 * h * w;
    float *tiled = alloc_floats(n), *whole = alloc_floats(n), *tiled_small = alloc_floats(n);
    size_t peak = tiled_decode_peak(rel, latent, h, w, tiled);
    size_t peak_small = tiled_decode_peak(rel, small, hs, ws, tiled_small);
    loaded m = load_model(rel);
    sdc_status s = sdc_vae_decode(m.vae, latent, 1, h, w, whole, 0);
    cr_assert_eq(s, SDC_OK, "untiled decode: %s", sdc_last_error());
    size_t peak_whole = sdc_vae_arena_peak(m.vae);
    unload(&m);
    double p = psnr(whole, tiled, n);
    cr_log_info("tiled vs untiled decode %dx%d: PSNR %.2f dB; arena peak tiled %zu (%dx%d: %zu), "
                "untiled %zu", w, h, p, peak, ws, hs, peak_small, peak_whole);
    cr_expect(p >= 30.0, "tiled decode PSNR %.2f dB", p);
    cr_expect(peak <= peak_small, "tiled arena peak grew: %zu > %zu", peak, peak_small);
    cr_expect(peak < peak_whole, "tiled arena peak %zu not below untiled %zu", peak, peak_whole);
    free(latent);
    free(small);
    free(tiled);
    free(whole);
    free(tiled_small);
}

/* A latent within one tile decodes exactly as without tiling. */
Test(vae, tiled_single_tile_is_untiled)
{
    loaded m = load_model("models/tiny-sd2v/model.safetensors");
    float *latent = smooth_latent(8, 6);
    size_t n = (size_t)3 * 64 * 8 * 6;
    float *a = alloc_floats(n), *b = alloc_floats(n);
    cr_assert_eq(sdc_vae_decode(m.vae, latent, 1, 8, 6, a, 0), SDC_OK);
    cr_assert_eq(sdc_vae_decode(m.vae, latent, 1, 8, 6, b, 1), SDC_OK);
    cr_expect_eq(memcmp(a, b, n * sizeof *a), 0, "single-tile decode differs");
    free(latent);
    free(a);
    free(b);
    unload(&m);
}

/* Tiled encode of the img2img input (128x128: 3 x 3 tiles of 8 latent cells) against the
 * untiled encode. */
Test(vae, tiled_encode)
{
    loaded m = load_model("models/tiny-sd1/model.safetensors");
    sdc_safetensors *st = golden_open("trajectories/img2img.tiny-sd1.ddim.safetensors");
    const sdc_st_entry *in = golden_get(st, "init_image");
    int H = (int)in->tensor.shape[2], W = (int)in->tensor.shape[3];
    size_t n = (size_t)4 * (H / 8) * (W / 8);
    float *image = golden_f32(in);
    float *mean = alloc_floats(n), *logvar = alloc_floats(n);
    float *tmean = alloc_floats(n), *tlogvar = alloc_floats(n);
    cr_assert_eq(sdc_vae_encode(m.vae, image, 1, H, W, mean, logvar, 0), SDC_OK);
    cr_assert_eq(sdc_vae_set_tiling(m.vae, TEST_TILE, TEST_OVERLAP), SDC_OK);
    cr_assert_eq(sdc_vae_encode(m.vae, image, 1, H, W, tmean, tlogvar, 1), SDC_OK, "%s",
                 sdc_last_error());
    double range = 0, se = 0;
    for (size_t i = 0; i < n; i++) {
        range = fmax(range, fabs(mean[i]));
        se += (tmean[i] - mean[i]) * (double)(tmean[i] - mean[i]);
    }
    double rel_rms = sqrt(se / (double)n) / range;
    cr_log_info("tiled vs untiled encode: mean rms diff %.3g of max |mean| %.3g, logvar max "
                "|diff| %.3g", rel_rms, range, max_abs_diff(logvar, tlogvar, n));
    cr_expect(rel_rms < 0.05, "tiled encode differs: relative rms %.3g", rel_rms);
    free(image);
    free(mean);
    free(logvar);
    free(tmean);
    free(tlogvar);
    sdc_safetensors_close(st);
    unload(&m);
}

/* ---- pixels, arguments, errors ---------------------------------------------------------- */

Test(vae, rgb8_conversion)
{
    /* x / 2 + 0.5 then * 255, rounded half to even; clamped; NaN -> 0 */
    float image[3 * 4] = {-1.0f, 1.0f, -2.0f, 3.0f,          /* R: 0 255 0 255 */
                          2.0f * 0.5f / 255.0f - 1.0f, 0.0f, /* G: 0.5 -> 0, 127.5 -> 128 */
                          2.0f * 2.5f / 255.0f - 1.0f, NAN,  /*    2.5 -> 2, NaN -> 0 */
                          -0.5f, 0.5f, 0.25f, -0.25f};       /* B: 63.75 191.25 159.375 95.625 */
    uint8_t rgb[12];
    sdc_vae_image_to_rgb8(image, 1, 2, 2, rgb);
    const uint8_t want[12] = {0, 0, 64, 255, 128, 191, 0, 2, 159, 255, 0, 96};
    for (int i = 0; i < 12; i++)
        cr_expect_eq(rgb[i], want[i], "pixel %d channel %d: %d, want %d", i / 3, i % 3, rgb[i],
                     want[i]);
    float back[12];
    sdc_vae_rgb8_to_image(want, 1, 2, 2, back);
    for (int i = 0; i < 12; i++)
        cr_expect_eq(back[(i % 3) * 4 + i / 3], 2.0f * ((float)want[i] / 255.0f) - 1.0f);
    cr_expect_eq(back[0], -1.0f);
    cr_expect_eq(back[3], 1.0f);
}

Test(vae, bad_arguments)
{
    loaded m = load_model("models/tiny-sd1/model.safetensors");
    float x[4 * 8 * 8] = {0}, y[3 * 64 * 64];
    cr_expect_eq(sdc_vae_decode(m.vae, x, 1, 0, 8, y, 0), SDC_ERR_ARG);
    cr_expect_eq(sdc_vae_decode(m.vae, x, 0, 8, 8, y, 0), SDC_ERR_ARG);
    cr_expect_eq(sdc_vae_decode(m.vae, NULL, 1, 8, 8, y, 0), SDC_ERR_ARG);
    cr_expect_eq(sdc_vae_decode(m.vae, x, 1, 1 << 20, 8, y, 0), SDC_ERR_ARG);
    cr_expect_eq(sdc_vae_encode(m.vae, y, 1, 1, 1, x, x, 0), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "1x1") != NULL, "message: %s", sdc_last_error());
    cr_expect_eq(sdc_vae_set_tiling(m.vae, 8, 5), SDC_ERR_ARG);
    cr_expect_eq(sdc_vae_set_tiling(m.vae, 8, 0), SDC_ERR_ARG);
    cr_expect_eq(sdc_vae_set_tiling(m.vae, 8, 4), SDC_OK);
    unload(&m);
}

/* A checkpoint without VAE tensors fails to load with a message naming the missing tensor. */
Test(vae, missing_tensors)
{
    sdc_checkpoint *ck;
    cr_assert_eq(sdc_checkpoint_open(golden_path("unet/tiny-sd1.safetensors"), &ck), SDC_OK,
                 "%s", sdc_last_error());
    sdc_vae *v = (sdc_vae *)1;
    sdc_status s = sdc_vae_load(ck, &v);
    cr_expect_neq(s, SDC_OK);
    cr_expect_null(v);
    cr_expect(strstr(sdc_last_error(), "decoder.conv_in") != NULL, "message: %s",
              sdc_last_error());
    sdc_checkpoint_close(ck);
}
