/* The prompts of one generation as AUTOMATIC1111 reads them (pipeline_impl.h):
 *
 *   prompt   -> sub-prompts of AND, each with a weight and a schedule over the model calls
 *   negative -> one schedule (no AND)
 *   texts    -> each distinct (text, positive or negative) encoded once, padded to one token
 *               count with the empty prompt's chunk; SDXL pooled vectors and label rows too
 *   call k   -> UNet rows [sub-prompt 0 .. n-1, negative], each the entry its schedule
 *               holds at counter k (A1111's reconstruct_cond_batch)
 *
 * Without emphasis (diffusers' strict mode) the prompts are taken as written. */
#include <stdlib.h>
#include <string.h>

#include "clip/prompt_schedule.h"
#include "ops/error.h"
#include "pipeline/pipeline_impl.h"

static sdc_status nomem(void)
{
    return sdc_fail(SDC_ERR_NOMEM, "out of memory for the prompt schedules");
}

/* A schedule of one entry: the text as written for every step. */
static sdc_status literal(const char *text, int steps, sdc_prompt_schedule *out)
{
    *out = (sdc_prompt_schedule){0};
    out->steps = malloc(sizeof *out->steps);
    char *copy = strdup(text);
    if (!out->steps || !copy) {
        free(out->steps);
        free(copy);
        out->steps = NULL;
        return nomem();
    }
    out->steps[0] = (sdc_prompt_step){steps, copy};
    out->count = 1;
    return SDC_OK;
}

static sdc_status split(const char *prompt, int a1111, sdc_subprompt **parts, int *count)
{
    if (a1111)
        return sdc_prompt_split_and(prompt, parts, count);
    *count = 0;
    *parts = calloc(1, sizeof **parts);
    if (!*parts || !((*parts)->text = strdup(prompt))) {
        free(*parts);
        *parts = NULL;
        return nomem();
    }
    (*parts)->weight = 1.0;
    *count = 1;
    return SDC_OK;
}

static sdc_status schedule(const char *text, int a1111, int steps, int hires_steps,
                           sdc_prompt_schedule *out)
{
    if (!a1111)
        return literal(text, hires_steps > 0 ? hires_steps : steps, out);
    return sdc_prompt_schedule_build(text, steps, hires_steps, out);
}

sdc_status sdc_prompt_plan_parse(const sdc_generate_params *p, int schedule_steps,
                                 int hires_steps, sdc_prompt_plan *plan)
{
    *plan = (sdc_prompt_plan){0};
    int a1111 = p->emphasis != 0;
    sdc_subprompt *parts = NULL;
    int n = 0;
    sdc_status s = split(p->prompt ? p->prompt : "", a1111, &parts, &n);
    if (s != SDC_OK)
        return s;
    plan->subprompts = n;
    plan->single = n == 1 && parts[0].weight == 1.0;
    plan->guided = p->cfg_scale > 1.0f || !plan->single;
    plan->scale = malloc((size_t)n * sizeof *plan->scale);
    plan->schedules = calloc((size_t)n + 1, sizeof *plan->schedules);
    if (!plan->scale || !plan->schedules)
        s = nomem();
    for (int i = 0; i < n && s == SDC_OK; i++) {
        /* A1111 forms weight * cfg in double and multiplies the float32 tensor by it */
        plan->scale[i] = (float)(parts[i].weight * (double)p->cfg_scale);
        s = schedule(parts[i].text, a1111, schedule_steps, hires_steps, &plan->schedules[i]);
    }
    if (s == SDC_OK)
        s = schedule(p->negative_prompt ? p->negative_prompt : "", a1111, schedule_steps,
                     hires_steps, &plan->schedules[n]);
    sdc_subprompts_free(parts, n);
    if (s != SDC_OK)
        sdc_prompt_plan_free(plan);
    return s;
}

int sdc_prompt_plan_rows(const sdc_prompt_plan *plan)
{
    return plan->subprompts + (plan->guided ? 1 : 0);
}

/* Schedule of UNet row `row`: a sub-prompt's, or the negative's (the last row). */
static const sdc_prompt_schedule *row_schedule(const sdc_prompt_plan *plan, int row)
{
    return &plan->schedules[row < plan->subprompts ? row : plan->subprompts];
}

const char *sdc_prompt_plan_text(const sdc_prompt_plan *plan, int row, int call)
{
    return sdc_prompt_schedule_at(row_schedule(plan, row), call);
}

/* ---- encoding ------------------------------------------------------------------------ */

/* SDXL: a negative prompt that is empty at every step is all zeros (A1111, diffusers). */
static int zero_negative(const sdc_model *m, const sdc_prompt_plan *plan)
{
    const sdc_prompt_schedule *neg = &plan->schedules[plan->subprompts];
    if (sdc_checkpoint_family(m->ck) != SDC_FAMILY_SDXL || !plan->guided)
        return 0;
    for (int i = 0; i < neg->count; i++)
        if (*neg->steps[i].text)
            return 0;
    return 1;
}

/* The slots: distinct (text, role) pairs; plan->slot[k][e] of schedule k's entry e. texts[]
 * borrows the schedules' strings (NULL: the zero negative). */
static sdc_status assign_slots(sdc_prompt_plan *plan, int zero_neg, const char ***texts,
                               unsigned char **negative)
{
    int n = plan->subprompts, total = 0;
    if (n < 1 || n > (1 << 20))
        return sdc_fail(SDC_ERR_ARG, "prompt plan of %d sub-prompts", n);
    for (int k = 0; k <= n; k++)
        total += plan->schedules[k].count;
    plan->slot = calloc((size_t)n + 1, sizeof *plan->slot);
    *texts = calloc((size_t)total, sizeof **texts);
    *negative = calloc((size_t)total, 1);
    if (!plan->slot || !*texts || !*negative)
        return nomem();
    plan->slots = 0;
    for (int k = 0; k <= n; k++) {
        const sdc_prompt_schedule *sc = &plan->schedules[k];
        int neg = k == n;
        if (!(plan->slot[k] = malloc((size_t)sc->count * sizeof *plan->slot[k])))
            return nomem();
        for (int e = 0; e < sc->count; e++) {
            const char *t = neg && zero_neg ? NULL : sc->steps[e].text;
            int j = 0;
            while (j < plan->slots && !((*negative)[j] == neg &&
                                        (t && (*texts)[j] ? strcmp(t, (*texts)[j]) == 0
                                                          : t == (*texts)[j])))
                j++;
            if (j == plan->slots) {
                (*texts)[j] = t;
                (*negative)[j] = (unsigned char)neg;
                plan->slots++;
            }
            plan->slot[k][e] = j;
        }
    }
    return SDC_OK;
}

/* contexts [slots, tokens, W]: every text encoded once, padded to the longest; pooled
 * [slots, P] (zeros for the zero negative) when the conditioner pools, taken while the text
 * is the conditioner's most recent (its cache holds only the last few). */
static sdc_status encode_contexts(sdc_conditioner *c, sdc_prompt_plan *plan, const char **texts,
                                  float *pooled)
{
    float **each = calloc((size_t)plan->slots, sizeof *each);
    int *tokens = calloc((size_t)plan->slots, sizeof *tokens);
    sdc_status s = each && tokens ? SDC_OK : nomem();
    size_t P = (size_t)sdc_conditioner_pooled_dim(c);
    int most = 0;
    for (int j = 0; j < plan->slots && s == SDC_OK; j++) {
        s = sdc_conditioner_encode(c, texts[j] ? texts[j] : "", &each[j], &tokens[j]);
        most = tokens[j] > most ? tokens[j] : most;
        if (s == SDC_OK && P && texts[j])
            s = sdc_conditioner_pooled(c, texts[j], pooled + j * P);
    }
    size_t W = (size_t)sdc_conditioner_width(c), row = (size_t)most * W;
    plan->tokens = most;
    plan->width = (int)W;
    if (s == SDC_OK && !(plan->contexts = malloc((size_t)plan->slots * row * sizeof(float))))
        s = nomem();
    for (int j = 0; j < plan->slots && s == SDC_OK; j++) {
        s = sdc_conditioner_pad(c, &each[j], tokens[j], most);
        if (s == SDC_OK && texts[j])
            memcpy(plan->contexts + j * row, each[j], row * sizeof(float));
        else if (s == SDC_OK)
            memset(plan->contexts + j * row, 0, row * sizeof(float));
    }
    if (s == SDC_OK)
        s = sdc_pipeline_check_finite(plan->contexts, (size_t)plan->slots * row,
                                      "the text encoder");
    for (int j = 0; each && j < plan->slots; j++)
        free(each[j]);
    free(each);
    free(tokens);
    return s;
}

/* labels [slots, L] of the UNet's label input (SDXL: pooled text [slots, P] + size ids), or
 * none. */
static sdc_status encode_labels(sdc_model *m, sdc_conditioner *c, const sdc_generate_params *p,
                                sdc_prompt_plan *plan, const float *pooled,
                                const unsigned char *negative)
{
    plan->label_dim = sdc_unet_label_dim(m->unet);
    size_t P = (size_t)sdc_conditioner_pooled_dim(c), L = (size_t)plan->label_dim;
    sdc_status s = SDC_OK;
    if (L && !(plan->labels = malloc((size_t)plan->slots * L * sizeof(float))))
        s = nomem();
    for (int j = 0; j < plan->slots && s == SDC_OK; j++) {
        float *row = NULL;
        s = sdc_pipeline_labels(m, p, 1, pooled ? pooled + j * P : NULL, negative[j] ? 0 : -1,
                                &row);
        if (s == SDC_OK && row)
            memcpy(plan->labels + j * L, row, L * sizeof *row);
        free(row);
    }
    return s;
}

/* What encode makes (a refiner's hand-over encodes again). */
static void clear_encoded(sdc_prompt_plan *plan)
{
    for (int k = 0; plan->slot && k <= plan->subprompts; k++)
        free(plan->slot[k]);
    free(plan->slot);
    free(plan->contexts);
    free(plan->labels);
    free(plan->batch_context);
    free(plan->batch_label);
    plan->slot = NULL;
    plan->contexts = plan->labels = plan->batch_context = plan->batch_label = NULL;
    plan->slots = plan->tokens = plan->width = plan->label_dim = 0;
}

sdc_status sdc_prompt_plan_encode(sdc_model *m, const sdc_generate_params *p,
                                  sdc_prompt_plan *plan)
{
    clear_encoded(plan);
    sdc_conditioner *c;
    sdc_status s = sdc_pipeline_conditioner(m, p, &c);
    const char **texts = NULL;
    unsigned char *negative = NULL;
    float *pooled = NULL;
    if (s == SDC_OK)
        s = assign_slots(plan, zero_negative(m, plan), &texts, &negative);
    size_t P = s == SDC_OK ? (size_t)sdc_conditioner_pooled_dim(c) : 0;
    if (P && !(pooled = calloc((size_t)plan->slots * P, sizeof *pooled)))
        s = nomem();
    if (s == SDC_OK)
        s = encode_contexts(c, plan, texts, pooled);
    if (s == SDC_OK)
        s = encode_labels(m, c, p, plan, pooled, negative);
    size_t rows = (size_t)sdc_prompt_plan_rows(plan);
    if (s == SDC_OK &&
        !(plan->batch_context = malloc(rows * plan->tokens * plan->width * sizeof(float))))
        s = nomem();
    if (s == SDC_OK && plan->labels &&
        !(plan->batch_label = malloc(rows * plan->label_dim * sizeof(float))))
        s = nomem();
    free(texts);
    free(negative);
    free(pooled);
    if (s != SDC_OK)
        clear_encoded(plan);
    return s;
}

void sdc_prompt_plan_select(sdc_prompt_plan *plan, int call)
{
    size_t ctx = (size_t)plan->tokens * plan->width, L = (size_t)plan->label_dim;
    for (int r = 0; r < sdc_prompt_plan_rows(plan); r++) {
        int k = r < plan->subprompts ? r : plan->subprompts;
        int j = plan->slot[k][sdc_prompt_schedule_index(&plan->schedules[k], call)];
        memcpy(plan->batch_context + r * ctx, plan->contexts + j * ctx, ctx * sizeof(float));
        if (plan->batch_label)
            memcpy(plan->batch_label + r * L, plan->labels + j * L, L * sizeof(float));
    }
}

void sdc_prompt_plan_free(sdc_prompt_plan *plan)
{
    clear_encoded(plan);
    for (int k = 0; plan->schedules && k <= plan->subprompts; k++)
        sdc_prompt_schedule_free(&plan->schedules[k]);
    free(plan->schedules);
    free(plan->scale);
    *plan = (sdc_prompt_plan){0};
}
