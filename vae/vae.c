#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/error.h"
#include "vae/vae_impl.h"

/* Largest batch accepted (keeps every size product far from overflow). */
#define MAX_BATCH 4096

static sdc_status load_encoder(sdc_vae *v, const sdc_layer_source *src)
{
    const char *path = sdc_checkpoint_path(src->ck);
    sdc_status s = sdc_vae_encoder_load(&v->enc, src);
    if (s != SDC_OK)
        return s;
    v->has_encoder = 1;
    if (v->enc.in_channels != v->dec.out_channels || v->enc.out_channels != 2 * v->z_channels)
        return sdc_fail(SDC_ERR_FORMAT, "%s: vae encoder maps %d channels to %d, want %d to %d",
                        path, v->enc.in_channels, v->enc.out_channels, v->dec.out_channels,
                        2 * v->z_channels);
    s = sdc_layer_load(src, "quant_conv", NULL, 2 * v->z_channels, 1, 1, &v->quant_conv);
    if (s == SDC_OK)
        s = sdc_layer_check_out(src, "quant_conv", NULL, &v->quant_conv, 2 * v->z_channels);
    int h, w;
    if (s == SDC_OK && (!sdc_vae_encoder_out_size(&v->enc, 8 * v->scale, 8 * v->scale, &h, &w) ||
                        h != 8 || w != 8))
        s = sdc_fail(SDC_ERR_FORMAT, "%s: vae encoder and decoder scale differently", path);
    return s;
}

static sdc_status load_parts(sdc_vae *v, const sdc_layer_source *src)
{
    const char *path = sdc_checkpoint_path(src->ck);
    sdc_status s = sdc_vae_decoder_load(&v->dec, src);
    if (s != SDC_OK)
        return s;
    v->z_channels = v->dec.z_channels;
    if (v->dec.out_channels != 3)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: vae decoder makes %d channels, not RGB", path,
                        v->dec.out_channels);
    int H, W;
    sdc_vae_decoder_out_size(&v->dec, 1, 1, &H, &W);
    v->scale = H;
    if (H != W || H < 1 || H > 64)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: vae decoder up-samples by %d x %d", path, H, W);
    s = sdc_layer_load(src, "post_quant_conv", NULL, v->z_channels, 1, 1, &v->post_quant_conv);
    if (s == SDC_OK)
        s = sdc_layer_check_out(src, "post_quant_conv", NULL, &v->post_quant_conv, v->z_channels);
    if (s == SDC_OK && sdc_vae_has(src, "encoder", "conv_in"))
        s = load_encoder(v, src);
    if (s == SDC_OK)
        s = sdc_vae_find_scaling_factor(src->ck, &v->scaling_factor);
    return s;
}

sdc_status sdc_vae_load(const sdc_checkpoint *ck, sdc_vae **out)
{
    *out = NULL;
    sdc_vae *v = calloc(1, sizeof *v);
    if (!v)
        return sdc_fail(SDC_ERR_NOMEM, "%s: out of memory loading the vae",
                        sdc_checkpoint_path(ck));
    sdc_arena_init(&v->arena);
    v->tile = SDC_VAE_TILE_DEFAULT;
    v->overlap = SDC_VAE_OVERLAP_DEFAULT;
    sdc_layer_source src = sdc_vae_source(ck, &v->layers);
    sdc_status s = load_parts(v, &src);
    if (s != SDC_OK) {
        sdc_vae_free(v);
        return s;
    }
    *out = v;
    return SDC_OK;
}

void sdc_vae_free(sdc_vae *vae)
{
    if (!vae)
        return;
    sdc_vae_decoder_free(&vae->dec);
    sdc_vae_encoder_free(&vae->enc);
    sdc_layer_free(&vae->quant_conv);
    sdc_layer_free(&vae->post_quant_conv);
    sdc_arena_free(&vae->arena);
    sdc_layer_table_free(&vae->layers);
    free(vae);
}

float sdc_vae_scaling_factor(const sdc_vae *vae) { return vae->scaling_factor; }
int sdc_vae_latent_channels(const sdc_vae *vae) { return vae->z_channels; }
int sdc_vae_has_encoder(const sdc_vae *vae) { return vae->has_encoder; }
int sdc_vae_downscale(const sdc_vae *vae) { return vae->scale; }
size_t sdc_vae_arena_peak(const sdc_vae *vae) { return vae->arena.peak; }

sdc_status sdc_vae_set_tiling(sdc_vae *vae, int tile, int overlap)
{
    if (overlap < 1 || tile < 2 * overlap || tile > SDC_VAE_MAX_LATENT_SIDE)
        return sdc_fail(SDC_ERR_ARG, "vae tiling: tile %d with overlap %d (need 1 <= overlap, "
                        "2 * overlap <= tile <= %d)", tile, overlap, SDC_VAE_MAX_LATENT_SIDE);
    vae->tile = tile;
    vae->overlap = overlap;
    return SDC_OK;
}

sdc_status sdc_vae_decode_window(sdc_vae *vae, const float *latent, int B, int h, int w, int y0,
                                 int x0, int th, int tw, float *image)
{
    sdc_vae_pass p = {&vae->arena, B};
    int zc = vae->z_channels;
    size_t n = (size_t)B * zc * th * tw, mark = sdc_arena_mark(p.arena);
    float *z = sdc_arena_floats(p.arena, n);
    float *zq = sdc_arena_floats(p.arena, n);
    if (!z || !zq)
        return sdc_vae_nomem(&p, mark, "decoder input");
    /* z [B, zc, th, tw] = latent window / scaling_factor (a float32 division, as diffusers) */
    for (int bc = 0; bc < B * zc; bc++)
        for (int i = 0; i < th; i++) {
            const float *src = latent + ((size_t)bc * h + y0 + i) * w + x0;
            float *dst = z + ((size_t)bc * th + i) * tw;
            for (int j = 0; j < tw; j++)
                dst[j] = src[j] / vae->scaling_factor;
        }
    sdc_status s = sdc_vae_conv(&vae->post_quant_conv, &p, zq, z, th, tw, 1, 0);
    if (s == SDC_OK)
        s = sdc_vae_decoder_forward(&vae->dec, &p, zq, th, tw, image); // [B, 3, 8th, 8tw]
    sdc_arena_release(p.arena, mark);
    return s;
}

static sdc_status check_batch(const void *a, const void *b, const void *c, int B)
{
    if (!a || !b || !c)
        return sdc_fail(SDC_ERR_ARG, "vae: NULL tensor argument");
    if (B < 1 || B > MAX_BATCH)
        return sdc_fail(SDC_ERR_ARG, "vae: batch size %d out of range 1..%d", B, MAX_BATCH);
    return SDC_OK;
}

sdc_status sdc_vae_decode(sdc_vae *vae, const float *latent, int B, int h, int w, float *image,
                          int tiled)
{
    sdc_status s = check_batch(latent, image, vae, B);
    if (s != SDC_OK)
        return s;
    if (h < 1 || w < 1 || h > SDC_VAE_MAX_LATENT_SIDE || w > SDC_VAE_MAX_LATENT_SIDE)
        return sdc_fail(SDC_ERR_ARG, "vae decode: latent size %dx%d out of range 1..%d", w, h,
                        SDC_VAE_MAX_LATENT_SIDE);
    sdc_arena_reset(&vae->arena);
    if (tiled && (h > vae->tile || w > vae->tile))
        return sdc_vae_decode_tiled(vae, latent, B, h, w, image);
    return sdc_vae_decode_window(vae, latent, B, h, w, 0, 0, h, w, image);
}

sdc_status sdc_vae_latent_size(const sdc_vae *vae, int H, int W, int *h, int *w)
{
    int max = SDC_VAE_MAX_LATENT_SIDE * vae->scale;
    if (!vae->has_encoder)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "vae: this VAE has no encoder (encoder.* tensors)");
    if (H < 1 || W < 1 || H > max || W > max || !sdc_vae_encoder_out_size(&vae->enc, H, W, h, w))
        return sdc_fail(SDC_ERR_ARG, "vae encode: image size %dx%d out of range (%d..%d)", W, H,
                        vae->scale, max);
    return SDC_OK;
}

/* image [B, 3, wh, ww] = the window (y0, x0) of image [B, 3, H, W]. */
static void copy_window(float *dst, const float *image, int BC, int H, int W, int y0, int x0,
                        int wh, int ww)
{
    for (int bc = 0; bc < BC; bc++)
        for (int i = 0; i < wh; i++)
            memcpy(dst + ((size_t)bc * wh + i) * ww, image + ((size_t)bc * H + y0 + i) * W + x0,
                   (size_t)ww * sizeof *dst);
}

sdc_status sdc_vae_encode_window(sdc_vae *vae, const float *image, int B, int H, int W, int y0,
                                 int x0, int wh, int ww, float *moments)
{
    sdc_vae_pass p = {&vae->arena, B};
    int h, w, c = vae->enc.out_channels;
    sdc_vae_encoder_out_size(&vae->enc, wh, ww, &h, &w);
    size_t mark = sdc_arena_mark(p.arena);
    float *raw = sdc_arena_floats(p.arena, (size_t)B * c * h * w);
    const float *x = image;
    if (raw && (wh != H || ww != W)) {
        float *win = sdc_arena_floats(p.arena, (size_t)B * vae->enc.in_channels * wh * ww);
        if (win)
            copy_window(win, image, B * vae->enc.in_channels, H, W, y0, x0, wh, ww);
        x = win;
    }
    if (!raw || !x)
        return sdc_vae_nomem(&p, mark, "encoder input");
    sdc_status s = sdc_vae_encoder_forward(&vae->enc, &p, x, wh, ww, raw); // [B, 2 zc, h, w]
    if (s == SDC_OK)
        s = sdc_vae_conv(&vae->quant_conv, &p, moments, raw, h, w, 1, 0);
    sdc_arena_release(p.arena, mark);
    return s;
}

/* mean, logvar [B, zc, h, w] = the halves of moments [B, 2 zc, h, w]; logvar clamped. */
static void split_moments(const float *moments, int B, int zc, size_t hw, float *mean,
                          float *logvar)
{
    for (int b = 0; b < B; b++) {
        const float *m = moments + (size_t)b * 2 * zc * hw;
        memcpy(mean + (size_t)b * zc * hw, m, zc * hw * sizeof *mean);
        float *lv = logvar + (size_t)b * zc * hw;
        for (size_t i = 0; i < zc * hw; i++)
            lv[i] = fminf(fmaxf(m[zc * hw + i], SDC_VAE_LOGVAR_MIN), SDC_VAE_LOGVAR_MAX);
    }
}

sdc_status sdc_vae_encode(sdc_vae *vae, const float *image, int B, int H, int W, float *mean,
                          float *logvar, int tiled)
{
    int h, w;
    sdc_status s = check_batch(image, mean, logvar, B);
    if (s == SDC_OK)
        s = sdc_vae_latent_size(vae, H, W, &h, &w);
    if (s != SDC_OK)
        return s;
    sdc_arena_reset(&vae->arena);
    int aligned = H == h * vae->scale && W == w * vae->scale;
    if (tiled && aligned && (h > vae->tile || w > vae->tile))
        return sdc_vae_encode_tiled(vae, image, B, H, W, mean, logvar);
    sdc_vae_pass p = {&vae->arena, B};
    size_t mark = sdc_arena_mark(p.arena);
    float *moments = sdc_arena_floats(p.arena, (size_t)B * 2 * vae->z_channels * h * w);
    if (!moments)
        return sdc_vae_nomem(&p, mark, "encoder output");
    s = sdc_vae_encode_window(vae, image, B, H, W, 0, 0, H, W, moments);
    if (s == SDC_OK)
        split_moments(moments, B, vae->z_channels, (size_t)h * w, mean, logvar);
    sdc_arena_release(p.arena, mark);
    return s;
}

void sdc_vae_std(const float *logvar, size_t n, float *std)
{
    for (size_t i = 0; i < n; i++)
        std[i] = expf(0.5f * logvar[i]);
}

void sdc_vae_sample(const sdc_vae *vae, const float *mean, const float *logvar,
                    const float *noise, size_t n, float *latent)
{
    for (size_t i = 0; i < n; i++) {
        float sample = mean[i] + expf(0.5f * logvar[i]) * noise[i];
        latent[i] = vae->scaling_factor * sample;
    }
}
sdc_layer_table *sdc_vae_layers(sdc_vae *vae) { return &vae->layers; }

void sdc_vae_free_activations(sdc_vae *vae)
{
    if (vae)
        sdc_arena_free(&vae->arena);
}
