/* sdc_model: one checkpoint's tokenizer, text encoder, UNet and VAE, loaded together. */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/cpu.h"
#include "ops/error.h"
#include "ops/gemm_q8.h"
#include "ops/log.h"
#include "ops/weight.h"
#include "clip/text_family.h"
#include "pipeline/pipeline_impl.h"
#include "weights/info.h"
#include "weights/json_file.h"

void sdc_model_free(sdc_model *m)
{
    if (!m)
        return;
    sdc_conditioner_free(m->cond);
    sdc_vae_free(m->vae);
    sdc_taesd_free(m->taesd);
    sdc_unet_free(m->unet);
    sdc_text_encoder_free(m->te);
    sdc_text_encoder_free(m->te2);
    sdc_tokenizer_free(m->tok);
    sdc_checkpoint_close(m->ck);
    free(m->path);
    free(m);
}

static sdc_status check_runnable(const sdc_checkpoint *ck)
{
    const char *path = sdc_checkpoint_path(ck);
    sdc_family family = sdc_checkpoint_family(ck);
    if (family == SDC_FAMILY_UNKNOWN)
        return sdc_fail(SDC_ERR_FORMAT, "%s: no Stable Diffusion UNet, VAE or text encoder "
                        "tensors found (is this a model checkpoint?)", path);
    return SDC_OK;
}

static sdc_status apply_prediction(sdc_checkpoint *ck, sdc_prediction_override o)
{
    if (o == SDC_PREDICTION_FORCE_EPS)
        sdc_checkpoint_set_prediction(ck, SDC_PREDICTION_EPS);
    else if (o == SDC_PREDICTION_FORCE_V)
        sdc_checkpoint_set_prediction(ck, SDC_PREDICTION_V);
    else if (o != SDC_PREDICTION_AUTO)
        return sdc_fail(SDC_ERR_ARG, "unknown prediction override %d", (int)o);
    return SDC_OK;
}

/* The TAESD of --taesd, which must work on the UNet's latent channels; says which file
 * decodes and which encodes. */
static sdc_status load_taesd(sdc_model *m, const char *path)
{
    sdc_status s = sdc_taesd_load(path, &m->taesd);
    if (s != SDC_OK)
        return s;
    int zc = sdc_vae_latent_channels(m->vae);
    if (sdc_taesd_latent_channels(m->taesd) != zc || sdc_vae_downscale(m->vae) != 8)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "%s: the TAESD works on %d latent channels at 8 "
                        "pixels a cell, the model on %d at %d", path,
                        sdc_taesd_latent_channels(m->taesd), zc, sdc_vae_downscale(m->vae));
    const char *dec = sdc_taesd_decoder_path(m->taesd), *enc = sdc_taesd_encoder_path(m->taesd);
    sdc_log(SDC_LOG_INFO, "taesd: decoding with %s; encoding with %s",
            dec ? dec : "the model's VAE", enc ? enc : "the model's VAE");
    return SDC_OK;
}

/* The tokenizer, loaded on a thread of its own while the weights load: reading the
 * vocabulary (gunzip, UTF-8 check, 49k merges into hash maps; about 50 ms) needs nothing
 * the weights need, and the weights' loading leaves the second core idle. */
typedef struct tokenizer_job {
    const char *dir, *path; /* as sdc_tokenizer_load takes them; outlive the job */
    sdc_tokenizer *tok;
    sdc_status status;
    char message[1024]; /* the thread's error message (messages are per thread) */
    pthread_t thread;
    int running;
} tokenizer_job;

static void *load_tokenizer(void *arg)
{
    tokenizer_job *j = arg;
    j->status = sdc_tokenizer_load(j->dir, j->path, &j->tok);
    if (j->status != SDC_OK)
        snprintf(j->message, sizeof j->message, "%s", sdc_last_error());
    return NULL;
}

/* Starts the job on a thread, or runs it here when no thread can be had. */
static void tokenizer_start(tokenizer_job *j)
{
    j->running = pthread_create(&j->thread, NULL, load_tokenizer, j) == 0;
    if (!j->running)
        load_tokenizer(j);
}

/* Waits for the job; its tokenizer goes to *tok. Its error (the first step of the old
 * order) wins over `s`. */
static sdc_status tokenizer_finish(tokenizer_job *j, sdc_status s, sdc_tokenizer **tok)
{
    if (j->running)
        pthread_join(j->thread, NULL);
    j->running = 0;
    *tok = j->tok;
    return j->status != SDC_OK ? sdc_fail(j->status, "%s", j->message) : s;
}

/* -v: what --precision int8 runs on and the memory it took. */
static void log_int8(void)
{
    if (sdc_precision_get() != SDC_PRECISION_INT8)
        return;
    sdc_log(SDC_LOG_INFO, "int8: %s kernel%s; q8_0 weights quantised at load: %.1f MiB",
            sdc_q8_kernel_best()->name,
            sdc_q8_path_best() == SDC_Q8_PATH_SCALAR ? " (plain C: this CPU has no AVX2)" : "",
            (double)sdc_weight_int8_bytes() / (1024.0 * 1024.0));
}

/* The kernels' instruction set: at most `cpu` (NULL or "auto": the CPU's widest). */
static sdc_status apply_cpu(const char *cpu)
{
    int level = !cpu || strcmp(cpu, "auto") == 0 ? SDC_CPU_AVX512 : sdc_cpu_level_from_name(cpu);
    if (level < 0)
        return sdc_fail(SDC_ERR_ARG, "cpu must be auto, scalar, avx2 or avx512, not '%s'", cpu);
    sdc_cpu_set_max_level((sdc_cpu_level)level);
    sdc_log(SDC_LOG_INFO, "kernels: %s (this CPU: %s)", sdc_cpu_level_name(sdc_cpu_level_get()),
            sdc_cpu_level_name(sdc_cpu_detect()));
    return SDC_OK;
}

sdc_status sdc_model_load(const sdc_model_params *given, sdc_model **out)
{
    *out = NULL;
    sdc_model_params mp;
    if (!given)
        return sdc_fail(SDC_ERR_ARG, "sdc_model_load: no parameters");
    sdc_status s = sdc_model_params_upgrade(given, &mp);
    if (s != SDC_OK)
        return s;
    const sdc_model_params *params = &mp;
    if (!params->model_path)
        return sdc_fail(SDC_ERR_ARG, "no model path given");
    s = sdc_pipeline_conv_type_check(params->conv_type);
    if (s != SDC_OK)
        return s;
    s = apply_cpu(params->cpu);
    if (s != SDC_OK)
        return s;
    if (params->threads > 0)
        omp_set_num_threads(params->threads);
    sdc_precision_set(params->int8   ? SDC_PRECISION_INT8
                      : params->bf16 ? SDC_PRECISION_BF16
                                     : SDC_PRECISION_FP32);
    sdc_model *m = calloc(1, sizeof *m);
    if (!m)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory loading %s", params->model_path);
    m->path = strdup(params->model_path);
    s = m->path ? sdc_checkpoint_open(params->model_path, &m->ck)
                : sdc_fail(SDC_ERR_NOMEM, "out of memory loading %s", params->model_path);
    if (s == SDC_OK)
        s = check_runnable(m->ck);
    if (s == SDC_OK)
        s = apply_prediction(m->ck, params->prediction);
    if (s == SDC_OK && params->vae_path)
        s = sdc_checkpoint_replace_vae(m->ck, params->vae_path);
    if (s == SDC_OK)
        s = sdc_pipeline_train_schedule(m->ck, &m->train);
    if (s == SDC_OK)
        s = sdc_checkpoint_use_vocab_dir(m->ck, params->vocab_path);
    tokenizer_job tj = {.dir = NULL, .path = params->vocab_path, .status = SDC_OK};
    if (s == SDC_OK) {
        tj.dir = sdc_checkpoint_tokenizer_dir(m->ck);
        tokenizer_start(&tj);
    }
    if (s == SDC_OK && (sdc_checkpoint_count(m->ck, SDC_COMPONENT_TEXT) ||
                        !sdc_checkpoint_count(m->ck, SDC_COMPONENT_TEXT2)))
        s = sdc_text_encoder_load(m->ck, &m->te);
    if (s == SDC_OK && sdc_checkpoint_count(m->ck, SDC_COMPONENT_TEXT2))
        s = sdc_text_encoder_load_component(m->ck, SDC_COMPONENT_TEXT2, &m->te2);
    if (s == SDC_OK)
        s = sdc_unet_load(m->ck, &m->unet);
    if (s == SDC_OK)
        s = sdc_vae_load(m->ck, &m->vae);
    if (s == SDC_OK)
        s = sdc_pipeline_quantise_convs(m, params->conv_type);
    if (s == SDC_OK && params->taesd_preview_only && !params->taesd_path)
        s = sdc_fail(SDC_ERR_ARG, "taesd_preview_only without a TAESD (taesd_path)");
    if (s == SDC_OK && params->taesd_path)
        s = load_taesd(m, params->taesd_path);
    m->taesd_preview_only = params->taesd_preview_only;
    s = tokenizer_finish(&tj, s, &m->tok);
    if (s != SDC_OK) {
        sdc_model_free(m);
        return s;
    }
    log_int8();
    *out = m;
    return SDC_OK;
}

const char *sdc_model_family_name(const sdc_model *m)
{
    return sdc_family_name(sdc_checkpoint_family(m->ck));
}

void sdc_model_memory_text(const sdc_model *m, char *buf, size_t size)
{
    sdc_checkpoint_memory_text(m->ck, buf, size);
}

void sdc_model_text_widths(const sdc_model *m, int widths[2])
{
    widths[0] = m->te ? sdc_text_encoder_width(m->te) : 0;
    widths[1] = m->te2 ? sdc_text_encoder_width(m->te2) : 0;
}

sdc_status sdc_model_short_hash(sdc_model *m, char hash[11])
{
    if (!m->hash[0]) {
        sdc_status s = sdc_checkpoint_short_hash(m->ck, m->hash);
        if (s != SDC_OK) {
            m->hash[0] = 0;
            return s;
        }
    }
    memcpy(hash, m->hash, 11);
    return SDC_OK;
}

/* The keys of scheduler_config.json that define the training schedule. */
static sdc_status read_schedule_config(const char *path, sdc_noise_schedule *out)
{
    json_t *cfg = NULL;
    sdc_status s = sdc_json_load_object(path, &cfg);
    if (s != SDC_OK)
        return s;
    json_t *v;
    if ((v = json_object_get(cfg, "num_train_timesteps")) && json_is_integer(v))
        out->num_train_timesteps = (int)json_integer_value(v);
    if ((v = json_object_get(cfg, "beta_start")) && json_is_number(v))
        out->beta_start = json_number_value(v);
    if ((v = json_object_get(cfg, "beta_end")) && json_is_number(v))
        out->beta_end = json_number_value(v);
    if ((v = json_object_get(cfg, "steps_offset")) && json_is_integer(v))
        out->steps_offset = (int)json_integer_value(v);
    v = json_object_get(cfg, "beta_schedule");
    const char *name = json_is_string(v) ? json_string_value(v) : "scaled_linear";
    if (strcmp(name, "scaled_linear") == 0)
        out->beta_schedule = SDC_BETA_SCALED_LINEAR;
    else if (strcmp(name, "linear") == 0)
        out->beta_schedule = SDC_BETA_LINEAR;
    else
        s = sdc_fail(SDC_ERR_UNSUPPORTED, "%s: beta_schedule \"%s\" is not supported "
                     "(scaled_linear, linear)", path, name);
    v = json_object_get(cfg, "trained_betas");
    if (s == SDC_OK && v && !json_is_null(v))
        s = sdc_fail(SDC_ERR_UNSUPPORTED, "%s: trained_betas are not supported", path);
    json_decref(cfg);
    if (s == SDC_OK)
        s = sdc_noise_schedule_check(out, path);
    return s;
}

sdc_status sdc_pipeline_train_schedule(const sdc_checkpoint *ck, sdc_noise_schedule *out)
{
    *out = sdc_checkpoint_family(ck) == SDC_FAMILY_SD2_X4 ? sdc_noise_schedule_x4()
                                                          : sdc_noise_schedule_sd();
    if (sdc_checkpoint_layout(ck) != SDC_LAYOUT_DIFFUSERS)
        return SDC_OK;
    char path[4096];
    if (!sdc_path_join(path, sizeof path, sdc_checkpoint_path(ck),
                       "scheduler/scheduler_config.json"))
        return sdc_fail(SDC_ERR_ARG, "%s: path too long", sdc_checkpoint_path(ck));
    return sdc_is_file(path) ? read_schedule_config(path, out) : SDC_OK;
}

static sdc_text_component component(const sdc_model *m, sdc_text_encoder *te, sdc_component c,
                                    int pooled)
{
    sdc_text_family f = sdc_text_family_of(m->ck, c);
    const sdc_embedding_db *emb = c == SDC_COMPONENT_TEXT ? m->embeddings : m->embeddings2;
    return (sdc_text_component){.tok = m->tok, .te = te, .pad_id = f.pad_token,
                                .final_norm = f.final_norm, .pooled = pooled,
                                .embeddings = emb};
}

sdc_status sdc_pipeline_conditioner(sdc_model *m, const sdc_generate_params *p,
                                    sdc_conditioner **out)
{
    sdc_conditioning_params cp = {
        .emphasis = p->emphasis != 0,
        .clip_skip = p->clip_skip > 0 ? p->clip_skip : 1,
    };
    if (!m->cond || memcmp(&cp, &m->cond_params, sizeof cp) != 0) {
        sdc_conditioner_free(m->cond);
        m->cond = NULL;
        sdc_text_component text[2];
        int n = 0;
        if (m->te)
            text[n++] = component(m, m->te, SDC_COMPONENT_TEXT, 0);
        if (m->te2) /* SDXL: the pooled vector is the second encoder's */
            text[n++] = component(m, m->te2, SDC_COMPONENT_TEXT2, 1);
        sdc_status s = sdc_conditioner_create(text, n, &cp, &m->cond);
        if (s != SDC_OK)
            return s;
        m->cond_params = cp;
    }
    *out = m->cond;
    return SDC_OK;
}

int sdc_pipeline_pooled_dim(sdc_model *m)
{
    /* only SDXL's conditioner pools, from its second encoder */
    return m->te2 ? sdc_text_encoder_pooled_dim(m->te2) : 0;
}

