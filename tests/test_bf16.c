/* The models with bf16 products (sdc_precision_set(SDC_PRECISION_BF16): linear layers and
 * convolutions round weights and activations to bfloat16, 8 significant bits, and sum in f32)
 * against the golden tensors the fp32 tests use. bf16 has its own tolerance, relative to the
 * largest golden value of the tensor: BF16_REL below, about 3x the largest error measured on
 * the golden models (1.5%, docs/PERFORMANCE.md). Whole txt2img runs are compared with
 * the fp32 path as 8-bit pictures (PSNR). Skipped on CPUs without AVX512_BF16. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clip/text_encoder.h"
#include "ops/cpu.h"
#include "ops/pack_cache.h"
#include "sdc.h"
#include "tests/golden.h"
#include "unet/unet.h"
#include "vae/taesd.h"
#include "vae/vae.h"
#include "weights/packed_weights.h"

/* max |bf16 - golden| <= BF16_REL * max |golden| */
#define BF16_REL 0.04
/* PSNR of a bf16 txt2img picture against the fp32 one, dB */
#define BF16_MIN_PSNR 35.0 /* measured 40.5 to 45.3 */

static void start(void)
{
    if (!sdc_cpu_has_bf16())
        cr_skip_test("this CPU has no AVX512_BF16");
    sdc_precision_set(SDC_PRECISION_BF16);
}

static void stop(void) { sdc_precision_set(SDC_PRECISION_FP32); }

/* Compares with the bf16 tolerance and logs the relative error. */
static void expect_bf16(const float *got, const sdc_st_entry *want, const char *what)
{
    float *w = golden_f32(want);
    size_t n = (size_t)sdc_tensor_numel(&want->tensor);
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fabs(w[i]) > scale ? fabs(w[i]) : scale;
    double d = max_abs_diff(got, w, n);
    cr_log_info("%s: bf16 max |diff| %.3g = %.4f of max |golden| %.3g", what, d, d / scale,
                scale);
    cr_expect(d <= BF16_REL * scale, "%s: bf16 max |diff| %.3g > %.3g * %.3g", what, d,
              BF16_REL, scale);
    free(w);
}

static sdc_checkpoint *open_model(const char *model)
{
    char rel[96];
    snprintf(rel, sizeof rel, "models/%s/model.safetensors", model);
    sdc_checkpoint *ck;
    cr_assert_eq(sdc_checkpoint_open(golden_path(rel), &ck), SDC_OK, "%s", sdc_last_error());
    return ck;
}

/* Batch 2 (uncond, cond) at t = 250, as classifier-free guidance runs it. */
static void check_unet(const char *model)
{
    char rel[96];
    snprintf(rel, sizeof rel, "unet/%s.safetensors", model);
    sdc_safetensors *st = golden_open(rel);
    const sdc_st_entry *x = golden_get(st, "x"), *cond = golden_get(st, "context_cond");
    const sdc_st_entry *uncond = golden_get(st, "context_uncond");
    const sdc_st_entry *want = golden_get(st, "out_b2.t250");
    size_t nx = (size_t)sdc_tensor_numel(&x->tensor), nc = (size_t)sdc_tensor_numel(&cond->tensor);
    float *x1 = golden_f32(x), *c1 = golden_f32(cond), *u1 = golden_f32(uncond);
    float *x2 = malloc(2 * nx * sizeof(float)), *ctx = malloc(2 * nc * sizeof(float));
    float *out = malloc(2 * nx * sizeof(float));
    cr_assert(x2 && ctx && out);
    memcpy(x2, x1, nx * sizeof(float));
    memcpy(x2 + nx, x1, nx * sizeof(float));
    memcpy(ctx, u1, nc * sizeof(float));
    memcpy(ctx + nc, c1, nc * sizeof(float));
    sdc_checkpoint *ck = open_model(model);
    sdc_unet *u;
    cr_assert_eq(sdc_unet_load(ck, &u), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_unet_forward(u, x2, 2, (int)x->tensor.shape[2], (int)x->tensor.shape[3],
                                  250.0f,
                                  &(sdc_unet_cond){.context = ctx, .tokens = (int)cond->tensor.shape[1]}, out),
                 SDC_OK, "%s", sdc_last_error());
    expect_bf16(out, want, model);
    /* packed weights (the sampling loop's, weights/packed_weights.h): the call that packs
     * them and the call that reads them give the same bits */
    float *again = malloc(2 * nx * sizeof(float));
    cr_assert(again);
    cr_assert_eq(sdc_packed_weights_set(sdc_unet_layers(u), ck, 1), SDC_OK);
    for (int call = 0; call < 2; call++) {
        cr_assert_eq(sdc_unet_forward(u, x2, 2, (int)x->tensor.shape[2],
                                      (int)x->tensor.shape[3], 250.0f,
                                      &(sdc_unet_cond){.context = ctx,
                                                       .tokens = (int)cond->tensor.shape[1]},
                                      again),
                     SDC_OK, "%s", sdc_last_error());
        cr_expect_eq(memcmp(again, out, 2 * nx * sizeof(float)), 0,
                     "%s: packed weights changed the output (call %d)", model, call);
        cr_expect_gt(sdc_pack_cache_bytes(), 0, "%s: nothing was packed", model);
    }
    sdc_packed_weights_set(sdc_unet_layers(u), ck, 0);
    cr_expect_eq(sdc_pack_cache_bytes(), 0, "%s: packed copies outlived the switch", model);
    free(again);
    sdc_unet_free(u);
    sdc_checkpoint_close(ck);
    sdc_safetensors_close(st);
    free(x1), free(c1), free(u1), free(x2), free(ctx), free(out);
}

Test(bf16, unet, .init = start, .fini = stop)
{
    check_unet("tiny-sd1");
    check_unet("tiny-sd2v");
}

Test(bf16, text_encoder, .init = start, .fini = stop)
{
    sdc_safetensors *st = golden_open("text_encoder/tiny-sd1.safetensors");
    const sdc_st_entry *ids_e = golden_get(st, "ids.0");
    size_t n = (size_t)sdc_tensor_numel(&ids_e->tensor);
    long long *wide = golden_i64(ids_e);
    int32_t *ids = malloc(n * sizeof *ids);
    cr_assert(ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)wide[i];
    sdc_checkpoint *ck = open_model("tiny-sd1");
    sdc_text_encoder *te;
    cr_assert_eq(sdc_text_encoder_load(ck, &te), SDC_OK, "%s", sdc_last_error());
    float *out = malloc(n * sdc_text_encoder_width(te) * sizeof(float));
    sdc_text_request req = {.layer = sdc_text_encoder_layers(te), .final_norm = 1, .hidden = out};
    cr_assert_eq(sdc_text_encoder_forward(te, ids, 1, (int)n, &req, 1), SDC_OK, "%s",
                 sdc_last_error());
    expect_bf16(out, golden_get(st, "final.0"), "text_encoder tiny-sd1");
    sdc_text_encoder_free(te);
    sdc_checkpoint_close(ck);
    sdc_safetensors_close(st);
    free(wide), free(ids), free(out);
}

Test(bf16, vae_decode, .init = start, .fini = stop)
{
    sdc_safetensors *st = golden_open("vae/tiny-sd1.safetensors");
    const sdc_st_entry *lat = golden_get(st, "decode.latent");
    const sdc_st_entry *want = golden_get(st, "decode.image");
    sdc_checkpoint *ck = open_model("tiny-sd1");
    sdc_vae *v;
    cr_assert_eq(sdc_vae_load(ck, &v), SDC_OK, "%s", sdc_last_error());
    float *latent = golden_f32(lat);
    float *image = malloc((size_t)sdc_tensor_numel(&want->tensor) * sizeof(float));
    cr_assert_eq(sdc_vae_decode(v, latent, (int)lat->tensor.shape[0], (int)lat->tensor.shape[2],
                                (int)lat->tensor.shape[3], image, 0),
                 SDC_OK, "%s", sdc_last_error());
    expect_bf16(image, want, "vae decode tiny-sd1");
    sdc_vae_free(v);
    sdc_checkpoint_close(ck);
    sdc_safetensors_close(st);
    free(latent), free(image);
}

/* TAESD (golden/taesd, diffusers file): decode 16x16 and encode 128x128. */
Test(bf16, taesd, .init = start, .fini = stop)
{
    sdc_safetensors *st = golden_open("taesd/cases/taesd.tiny-taesd.safetensors");
    const sdc_st_entry *lat = golden_get(st, "decode.latent"), *in = golden_get(st, "encode.image");
    const sdc_st_entry *image_want = golden_get(st, "decode.image");
    const sdc_st_entry *latent_want = golden_get(st, "encode.latent");
    sdc_taesd *t;
    const char *path = golden_path("taesd/tiny-taesd/diffusion_pytorch_model.safetensors");
    cr_assert_eq(sdc_taesd_load(path, &t), SDC_OK, "%s", sdc_last_error());
    float *latent = golden_f32(lat), *image = golden_f32(in);
    float *out = malloc((size_t)sdc_tensor_numel(&image_want->tensor) * sizeof(float));
    cr_assert(out);
    cr_assert_eq(sdc_taesd_decode(t, latent, 1, (int)lat->tensor.shape[2],
                                  (int)lat->tensor.shape[3], out), SDC_OK, "%s", sdc_last_error());
    expect_bf16(out, image_want, "taesd decode");
    cr_assert_eq(sdc_taesd_encode(t, image, 1, (int)in->tensor.shape[2], (int)in->tensor.shape[3],
                                  out), SDC_OK, "%s", sdc_last_error());
    expect_bf16(out, latent_want, "taesd encode");
    sdc_taesd_free(t);
    sdc_safetensors_close(st);
    free(latent), free(image), free(out);
}

/* A 5-step 128x128 txt2img picture with bf16 products against the fp32 one. */
static void check_txt2img(const char *model, const char *sampler)
{
    char rel[96];
    snprintf(rel, sizeof rel, "models/%s/model.safetensors", model);
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = golden_path(rel);
    sdc_model *m;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    sdc_generate_params gp = sdc_generate_default_params();
    gp.prompt = "a photograph of an astronaut riding a horse";
    gp.width = gp.height = 128;
    gp.steps = 5;
    gp.sampler = sampler;
    size_t n = 128 * 128 * 3;
    uint8_t *pic[2] = {malloc(n), malloc(n)};
    for (int p = 0; p < 2; p++) {
        sdc_precision_set(p ? SDC_PRECISION_BF16 : SDC_PRECISION_FP32);
        cr_assert_eq(sdc_generate(m, &gp, pic[p]), SDC_OK, "%s", sdc_last_error());
    }
    double se = 0;
    for (size_t i = 0; i < n; i++)
        se += ((double)pic[0][i] - pic[1][i]) * ((double)pic[0][i] - pic[1][i]);
    double psnr = se > 0 ? 10 * log10(255.0 * 255.0 * (double)n / se) : INFINITY;
    cr_log_info("%s %s: bf16 vs fp32 PSNR %.2f dB", model, sampler, psnr);
    cr_expect(psnr >= BF16_MIN_PSNR, "%s %s: bf16 vs fp32 PSNR %.2f dB < %.1f", model, sampler,
              psnr, BF16_MIN_PSNR);
    free(pic[0]), free(pic[1]);
    sdc_model_free(m);
}

Test(bf16, txt2img, .init = start, .fini = stop)
{
    check_txt2img("tiny-sd1", "euler");
    check_txt2img("tiny-sd1", "dpm++2m");
    check_txt2img("tiny-sd2v", "euler");
}
