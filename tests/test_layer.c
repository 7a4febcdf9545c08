/* The weight seam: the one layer type with run-time low-rank adapters (ops/layer.h) against a
 * double-precision reference of the merged weight W + scale * up down, and the name tables
 * every model fills while loading (weights/layer_table.h): each entry is the checkpoint
 * tensor of that name, every layer tensor has an entry, and an adapter attached through the
 * table changes the model's output exactly as merging it into the weight does. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clip/text_encoder.h"
#include "ops/dtype.h"
#include "ops/layer.h"
#include "tests/golden.h"
#include "unet/unet.h"
#include "vae/vae.h"

static float frand(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* An owned f32 [rows, cols] weight of random values. */
static sdc_weight random_weight(int rows, int cols, unsigned *seed)
{
    float *d = malloc((size_t)rows * cols * sizeof *d);
    cr_assert(d);
    for (int i = 0; i < rows * cols; i++)
        d[i] = frand(seed);
    return (sdc_weight){.rows = rows, .cols = cols, .dtype = SDC_DTYPE_F32, .data = d, .owned = d};
}

static sdc_adapter *random_adapter(int rank, int out, int cols, float scale, unsigned *seed)
{
    sdc_adapter *a = calloc(1, sizeof *a);
    cr_assert(a);
    a->down = random_weight(rank, cols, seed);
    a->up = random_weight(out, rank, seed);
    a->scale = scale;
    return a;
}

/* merged [out, cols] = W + sum scale * up down, in double. */
static double *merged(const sdc_layer *l)
{
    int out = l->w.rows, cols = l->w.cols;
    double *m = malloc((size_t)out * cols * sizeof *m);
    cr_assert(m);
    float *w = malloc((size_t)out * cols * sizeof *w); /* the layer's own dtype, as f32 */
    cr_assert(w);
    sdc_convert_to_f32(w, l->w.data, l->w.dtype, (size_t)out * cols);
    for (int i = 0; i < out * cols; i++)
        m[i] = w[i];
    free(w);
    for (const sdc_adapter *a = l->adapters; a; a = a->next) {
        const float *d = a->down.data, *u = a->up.data;
        for (int o = 0; o < out; o++)
            for (int c = 0; c < cols; c++) {
                double acc = 0;
                for (int r = 0; r < a->down.rows; r++)
                    acc += (double)u[o * a->down.rows + r] * d[r * cols + c];
                m[o * cols + c] += a->scale * acc;
            }
    }
    return m;
}

/* Direct convolution (k x k, stride, pad) with the merged weight, in double. */
static void reference_conv(const sdc_layer *l, const double *m, const float *x, int B, int H,
                           int W, int stride, int pad, double *y)
{
    int k = l->k, C = l->in, O = l->w.rows;
    int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    for (int b = 0; b < B; b++)
        for (int o = 0; o < O; o++)
            for (int i = 0; i < Ho; i++)
                for (int j = 0; j < Wo; j++) {
                    double acc = l->bias ? l->bias[o] : 0;
                    for (int c = 0; c < C; c++)
                        for (int u = 0; u < k; u++)
                            for (int v = 0; v < k; v++) {
                                int yy = i * stride - pad + u, xx = j * stride - pad + v;
                                if (yy < 0 || yy >= H || xx < 0 || xx >= W)
                                    continue;
                                acc += m[(size_t)o * C * k * k + (c * k + u) * k + v] *
                                       x[(((size_t)b * C + c) * H + yy) * W + xx];
                            }
                    y[(((size_t)b * O + o) * Ho + i) * Wo + j] = acc;
                }
}

static void expect_near(const float *got, const double *want, size_t n, double scale,
                        const char *what)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(got[i] - want[i]));
    /* f32 accumulation over a few hundred products of values below 1 */
    cr_expect(worst <= 1e-4 * scale, "%s: max |diff| %g", what, worst);
}

static void check_conv(int k, int stride, int pad, int n_adapters, sdc_arena *arena)
{
    unsigned seed = 7u + (unsigned)(k * 31 + stride * 7 + n_adapters);
    enum { B = 2, C = 5, O = 6, H = 9, W = 7 };
    sdc_layer l = {.w = random_weight(O, C * k * k, &seed), .in = C, .k = k};
    l.bias = malloc(O * sizeof *l.bias);
    for (int o = 0; o < O; o++)
        l.bias[o] = frand(&seed);
    for (int i = 0; i < n_adapters; i++)
        cr_assert_eq(sdc_layer_add_adapter(&l, random_adapter(2 + i, O, C * k * k, 0.5f + i,
                                                              &seed)),
                     SDC_OK);
    float x[B * C * H * W], y[B * O * H * W];
    double want[B * O * H * W];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = frand(&seed);
    int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    cr_assert_eq(sdc_layer_conv(&l, y, x, B, H, W, stride, pad, arena), 0);
    double *m = merged(&l);
    reference_conv(&l, m, x, B, H, W, stride, pad, want);
    expect_near(y, want, (size_t)B * O * Ho * Wo, 10.0, "conv with adapters");
    /* without adapters the layer is its own weight again */
    sdc_layer_clear_adapters(&l);
    free(m);
    m = merged(&l);
    cr_assert_eq(sdc_layer_conv(&l, y, x, B, H, W, stride, pad, arena), 0);
    reference_conv(&l, m, x, B, H, W, stride, pad, want);
    expect_near(y, want, (size_t)B * O * Ho * Wo, 10.0, "conv after clearing");
    free(m);
    sdc_layer_free(&l);
}

Test(layer, conv_adapters_equal_the_merged_weight)
{
    sdc_arena arena;
    sdc_arena_init(&arena);
    for (int n = 1; n <= 2; n++) {
        check_conv(3, 1, 1, n, &arena);
        check_conv(3, 2, 1, n, NULL); /* malloc'd scratch without an arena */
        check_conv(1, 1, 0, n, &arena);
    }
    sdc_arena_free(&arena);
}

Test(layer, linear_adapters_equal_the_merged_weight)
{
    unsigned seed = 3;
    enum { M = 11, IN = 13, OUT = 9 };
    sdc_layer l = {.w = random_weight(OUT, IN, &seed), .in = IN, .k = 1};
    cr_assert_eq(sdc_layer_add_adapter(&l, random_adapter(4, OUT, IN, 0.25f, &seed)), SDC_OK);
    cr_assert_eq(sdc_layer_add_adapter(&l, random_adapter(1, OUT, IN, -2.0f, &seed)), SDC_OK);
    float x[M * IN], y[M * OUT];
    double want[M * OUT];
    for (int i = 0; i < M * IN; i++)
        x[i] = frand(&seed);
    cr_assert_eq(sdc_layer_linear(&l, y, x, M, NULL), 0);
    double *m = merged(&l);
    for (int i = 0; i < M; i++)
        for (int o = 0; o < OUT; o++) {
            double acc = 0;
            for (int c = 0; c < IN; c++)
                acc += m[o * IN + c] * x[i * IN + c];
            want[i * OUT + o] = acc;
        }
    expect_near(y, want, M * OUT, 10.0, "linear with adapters");
    free(m);
    sdc_layer_free(&l);
}

Test(layer, adapters_of_the_wrong_shape_are_refused)
{
    unsigned seed = 5;
    sdc_layer l = {.w = random_weight(4, 6, &seed), .in = 6, .k = 1};
    sdc_adapter *a = random_adapter(2, 4, 5, 1.0f, &seed); /* down reads 5 inputs, not 6 */
    cr_expect_eq(sdc_layer_add_adapter(&l, a), SDC_ERR_FORMAT);
    cr_expect(strstr(sdc_last_error(), "does not fit"), "%s", sdc_last_error());
    sdc_weight_free(&a->down);
    sdc_weight_free(&a->up);
    free(a);
    cr_expect_null(l.adapters);
    sdc_layer_free(&l);
}

/* ---- name tables ---------------------------------------------------------------------- */

/* Every entry is the checkpoint's "<name>.weight" itself (a view, not a copy) and every
 * matrix / kernel tensor named "*.weight" of the component has an entry, except `skip`. */
static void expect_table_covers(sdc_layer_table *t, const sdc_checkpoint *ck, sdc_component c,
                                const char *const *skip, size_t n_skip)
{
    cr_expect_gt(t->count, 0, "%s: empty layer table", sdc_component_name(c));
    for (size_t i = 0; i < t->count; i++) {
        char name[300];
        snprintf(name, sizeof name, "%s.weight", t->entries[i].name);
        const sdc_tensor *w = sdc_checkpoint_get(ck, c, name);
        cr_expect_not_null(w, "%s: table entry %s has no tensor", sdc_component_name(c), name);
        if (w)
            cr_expect_eq(t->entries[i].layer->w.data, w->data, "%s is not a view", name);
    }
    size_t n = sdc_checkpoint_count(ck, c);
    for (size_t i = 0; i < n; i++) {
        const sdc_tensor *tensor;
        const char *name = sdc_checkpoint_name_at(ck, c, i, &tensor);
        size_t len = strlen(name);
        if (tensor->ndim < 2 || len < 7 || strcmp(name + len - 7, ".weight") != 0)
            continue;
        int skipped = 0;
        for (size_t k = 0; k < n_skip; k++)
            skipped |= strcmp(name, skip[k]) == 0;
        if (skipped)
            continue;
        char layer[300];
        snprintf(layer, sizeof layer, "%.*s", (int)(len - 7), name);
        cr_expect_not_null(sdc_layer_table_find(t, layer), "%s: %s is not in the layer table",
                           sdc_component_name(c), layer);
    }
}

Test(layer, every_model_layer_is_found_by_its_checkpoint_name)
{
    sdc_checkpoint *ck;
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sd1/model.safetensors"), &ck),
                 SDC_OK, "%s", sdc_last_error());
    sdc_unet *u;
    sdc_vae *v;
    sdc_text_encoder *te;
    cr_assert_eq(sdc_unet_load(ck, &u), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_vae_load(ck, &v), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(sdc_text_encoder_load(ck, &te), SDC_OK, "%s", sdc_last_error());
    expect_table_covers(sdc_unet_layers(u), ck, SDC_COMPONENT_UNET, NULL, 0);
    expect_table_covers(sdc_vae_layers(v), ck, SDC_COMPONENT_VAE, NULL, 0);
    static const char *const embeddings[] = {"text_model.embeddings.token_embedding.weight",
                                             "text_model.embeddings.position_embedding.weight"};
    expect_table_covers(sdc_text_encoder_layer_table(te), ck, SDC_COMPONENT_TEXT, embeddings, 2);
    cr_expect_not_null(sdc_layer_table_find(sdc_unet_layers(u), "input_blocks.1.1.proj_in"));
    cr_expect_null(sdc_layer_table_find(sdc_unet_layers(u), "input_blocks.1.1.proj_in.weight"));
    sdc_text_encoder_free(te);
    sdc_vae_free(v);
    sdc_unet_free(u);
    sdc_checkpoint_close(ck);
}

/* OpenCLIP's fused in_proj: q / k / v are registered under their split names. */
Test(layer, split_projections_are_registered_by_their_split_names)
{
    sdc_checkpoint *ck;
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sd2v/model.safetensors"), &ck),
                 SDC_OK, "%s", sdc_last_error());
    sdc_text_encoder *te;
    cr_assert_eq(sdc_text_encoder_load(ck, &te), SDC_OK, "%s", sdc_last_error());
    sdc_layer_table *t = sdc_text_encoder_layer_table(te);
    for (int l = 0; l < sdc_text_encoder_layers(te); l++)
        for (int p = 0; p < 3; p++) {
            char name[128];
            static const char *const parts[] = {"q_proj", "k_proj", "v_proj"};
            snprintf(name, sizeof name, "text_model.encoder.layers.%d.self_attn.%s", l, parts[p]);
            cr_expect_not_null(sdc_layer_table_find(t, name), "%s", name);
        }
    sdc_text_encoder_free(te);
    sdc_checkpoint_close(ck);
}

/* An adapter attached through the table gives what the merged weight gives. */
Test(layer, an_adapter_found_by_name_changes_the_unet_as_merging_does)
{
    sdc_checkpoint *ck;
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sd1/model.safetensors"), &ck),
                 SDC_OK, "%s", sdc_last_error());
    sdc_unet *u;
    cr_assert_eq(sdc_unet_load(ck, &u), SDC_OK, "%s", sdc_last_error());
    enum { H = 8, W = 8, N = 4 * H * W };
    unsigned seed = 11;
    float x[N], ctx[77 * 64], plain[N], adapted[N], merged_out[N];
    for (int i = 0; i < N; i++)
        x[i] = frand(&seed);
    for (int i = 0; i < 77 * 64; i++)
        ctx[i] = frand(&seed);
    sdc_unet_cond c = {.context = ctx, .tokens = 77};
    cr_assert_eq(sdc_unet_forward(u, x, 1, H, W, 500.0f, &c, plain), SDC_OK);
    static const char *const targets[] = {"input_blocks.1.1.transformer_blocks.0.attn2.to_k",
                                          "input_blocks.1.0.in_layers.2", "out.2"};
    sdc_layer *layers[3];
    for (int i = 0; i < 3; i++) {
        layers[i] = sdc_layer_table_find(sdc_unet_layers(u), targets[i]);
        cr_assert_not_null(layers[i], "%s", targets[i]);
        sdc_layer *l = layers[i];
        cr_assert_eq(sdc_layer_add_adapter(l, random_adapter(2, l->w.rows, l->w.cols, 0.3f,
                                                             &seed)),
                     SDC_OK);
    }
    cr_assert_eq(sdc_unet_forward(u, x, 1, H, W, 500.0f, &c, adapted), SDC_OK);
    double change = max_abs_diff(plain, adapted, N);
    cr_expect_gt(change, 1e-3, "the adapters changed nothing");
    /* merge: each weight becomes an owned f32 copy of W + scale * up down */
    for (int i = 0; i < 3; i++) {
        sdc_layer *l = layers[i];
        double *m = merged(l);
        sdc_weight own;
        cr_assert_eq(sdc_weight_own_f32(&own, &l->w), SDC_OK);
        for (int j = 0; j < own.rows * own.cols; j++)
            ((float *)own.owned)[j] = (float)m[j];
        free(m);
        sdc_layer_clear_adapters(l);
        sdc_weight_free(&l->w); /* a view: forgets it */
        l->w = own;
    }
    cr_assert_eq(sdc_unet_forward(u, x, 1, H, W, 500.0f, &c, merged_out), SDC_OK);
    double d = max_abs_diff(adapted, merged_out, N);
    cr_expect_leq(d, 1e-4 * fmax(1.0, change), "adapters vs merged: %g", d);
    sdc_unet_free(u); /* frees the owned weights */
    sdc_checkpoint_close(ck);
}
