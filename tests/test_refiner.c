/* The SDXL refiner hand-over (sdc_generate_params.refiner / refiner_switch).
 *   - A second loaded copy of the base as the refiner gives the base's picture bit for bit
 *     at any switch: the latent is handed over as it is, the sampler (schedule, step state,
 *     random stream) carries on, the conditioning is rebuilt the same.
 *   - A refiner-shaped model made from the tiny base (bigG only, the refiner's 5-id
 *     label with an aesthetic score, a 128-wide context) takes over from the switch on:
 *     switch 1 is the base alone, earlier switches differ, its aesthetic score has its effect.
 *   - Mismatched latent spaces are refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/dtype.h"
#include "pipeline/pipeline_impl.h"
#include "tests/golden.h"
#include "tests/st_write.h"
#include "weights/safetensors.h"

#define SIDE 64
#define PIXELS (SIDE * SIDE * 3)

static sdc_model *load(const char *path)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = path;
    sdc_model *m = NULL;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    return m;
}

static sdc_generate_params params(const char *sampler)
{
    sdc_generate_params p = sdc_generate_default_params();
    p.prompt = "a photograph of an astronaut riding a horse";
    p.negative_prompt = "blurry";
    p.width = p.height = SIDE;
    p.steps = 6;
    p.seed = 11;
    p.sampler = sampler;
    return p;
}

static void render(sdc_model *m, const sdc_generate_params *p, uint8_t *rgb)
{
    cr_assert_eq(sdc_generate(m, p, rgb), SDC_OK, "%s", sdc_last_error());
}

static const char *base_path(void) { return golden_path("models/tiny-sdxl/model.safetensors"); }

Test(refiner, a_copy_of_the_base_continues_exactly)
{
    sdc_model *base = load(base_path()), *copy = load(base_path());
    static const char *const samplers[] = {"euler_a", "heun", "dpm++2m"};
    for (size_t k = 0; k < 3; k++) {
        uint8_t alone[PIXELS], refined[PIXELS];
        sdc_generate_params p = params(samplers[k]);
        render(base, &p, alone);
        p.refiner = copy;
        for (float at = 0.0f; at <= 1.0f; at += 0.25f) {
            p.refiner_switch = at;
            sdc_conditioner_free(copy->cond); /* see that the copy conditions again */
            copy->cond = NULL;
            render(base, &p, refined);
            cr_expect_eq(memcmp(alone, refined, PIXELS), 0, "%s, switch %g", samplers[k], at);
            cr_expect_eq(copy->cond != NULL, at < 1.0f, "%s, switch %g: the copy %s", samplers[k],
                         at, at < 1.0f ? "never took over" : "took over at 1");
        }
    }
    sdc_model_free(copy);
    sdc_model_free(base);
}

/* ---- a refiner-shaped model from the tiny base ---------------------------------------- */

/* Columns [c0, c0 + n) of a 2-D F16/F32 tensor, into a new tensor owning `buf`. */
static sdc_tensor columns(const sdc_tensor *t, int c0, int n, void **buf)
{
    size_t es = sdc_dtype_size(t->dtype), rows = (size_t)t->shape[0], cols = (size_t)t->shape[1];
    char *out = malloc(rows * (size_t)n * es);
    cr_assert(out);
    for (size_t r = 0; r < rows; r++)
        memcpy(out + r * n * es, (const char *)t->data + (r * cols + (size_t)c0) * es, n * es);
    sdc_tensor s = *t;
    s.shape[1] = n;
    s.data = out;
    *buf = out;
    return s;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The tiny base turned into a refiner: only encoder 2 (renamed embedders.0), cross-attention
 * keys / values reading its 128 columns of the context, and label_emb reading the pooled
 * vector and five size ids. */
static void make_refiner(const char *path)
{
    sdc_safetensors *st;
    cr_assert_eq(sdc_safetensors_open(base_path(), &st), SDC_OK, "%s", sdc_last_error());
    size_t n = sdc_safetensors_count(st), count = 0;
    st_item *items = calloc(n, sizeof *items);
    sdc_tensor *tensors = calloc(n, sizeof *tensors);
    char **names = calloc(n, sizeof *names);
    void **bufs = calloc(n, sizeof *bufs);
    for (size_t i = 0; i < n; i++) {
        const sdc_st_entry *e = sdc_safetensors_entry(st, i);
        const char *name = e->name;
        if (strncmp(name, "conditioner.embedders.0.", 24) == 0)
            continue;
        names[count] = strdup(name);
        if (strncmp(name, "conditioner.embedders.1.", 24) == 0)
            names[count][22] = '0';
        tensors[count] = e->tensor;
        if (ends_with(name, "attn2.to_k.weight") || ends_with(name, "attn2.to_v.weight"))
            tensors[count] = columns(&e->tensor, 64, 128, &bufs[count]);
        if (strcmp(name, "model.diffusion_model.label_emb.0.0.weight") == 0)
            tensors[count] = columns(&e->tensor, 0, 128 + 5 * 16, &bufs[count]);
        items[count] = (st_item){names[count], &tensors[count]};
        count++;
    }
    st_write(path, items, count);
    for (size_t i = 0; i < count; i++) {
        free(names[i]);
        free(bufs[i]);
    }
    free(items);
    free(tensors);
    free(names);
    free(bufs);
    sdc_safetensors_close(st);
}

Test(refiner, a_refiner_model_takes_over_at_the_switch)
{
    char path[] = "/tmp/sdc_test_refiner_XXXXXX.safetensors";
    int fd = mkstemps(path, 12);
    cr_assert(fd >= 0);
    make_refiner(path);
    sdc_model *base = load(base_path()), *ref = load(path);
    cr_expect_eq(sdc_unet_label_dim(ref->unet), 128 + 5 * 16);
    cr_expect_null(ref->te, "the refiner has no CLIP ViT-L");
    uint8_t alone[PIXELS], late[PIXELS], early[PIXELS], scored[PIXELS];
    sdc_generate_params p = params("euler_a");
    render(base, &p, alone);
    p.refiner = ref;
    p.refiner_switch = 1.0f;
    render(base, &p, late);
    cr_expect_eq(memcmp(alone, late, PIXELS), 0, "switch 1 is the base alone");
    p.refiner_switch = 0.5f;
    render(base, &p, early);
    cr_expect_neq(memcmp(alone, early, PIXELS), 0, "the refiner changed nothing");
    p.aesthetic_score = 2.0f; /* the refiner's; the base takes none */
    render(base, &p, scored);
    cr_expect_neq(memcmp(early, scored, PIXELS), 0, "the aesthetic score had no effect");
    char *text;
    cr_assert_eq(sdc_generate_parameters_text(base, &p, &text), SDC_OK);
    cr_expect(strstr(text, "Refiner switch at: 0.5"), "%s", text);
    free(text);
    sdc_model_free(ref);
    sdc_model_free(base);
    remove(path);
}

Test(refiner, a_refiner_of_another_latent_space_is_refused)
{
    sdc_model *base = load(base_path());
    sdc_model *sd1 = load(golden_path("models/tiny-sd1/model.safetensors"));
    sdc_generate_params p = params("euler");
    p.refiner = sd1;
    p.refiner_switch = 0.5f;
    uint8_t rgb[PIXELS];
    cr_expect_eq(sdc_generate(base, &p, rgb), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "latent space"), "%s", sdc_last_error());
    p.refiner = base;
    p.refiner_switch = 1.5f;
    cr_expect_eq(sdc_generate(base, &p, rgb), SDC_ERR_ARG);
    sdc_model_free(sd1);
    sdc_model_free(base);
}
