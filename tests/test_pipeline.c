/* End to end against the golden trajectories: every txt2img / k-diffusion / img2img /
 * inpainting case, once through the library (final latent within the manifest's tolerance,
 * picture within 2/255) and once through the `sdc` command line of ../shared/CLI-CONTRACT.md
 * (the written PNG within 2/255). Inpainting compares inside the mask only and requires the
 * pixels outside it to equal the init image exactly. */
#include <criterion/criterion.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "golden.h"
#include "image/image.h"
#include "image/mask.h"
#include "pipeline/pipeline_impl.h"

extern char **environ;

typedef struct golden_case {
    json_t *json;
    const char *set; /* "" = the main golden set, "lora" ... */
    const char *id, *kind, *model, *sampler;
    int steps, width, height, v_prediction;
    double cfg, strength;
    long long seed;
} golden_case;

static golden_case find_case_in(const char *set, const char *id)
{
    /* the subfolder sets' manifests, kept for the cases' strings */
    static struct { const char *set; json_t *manifest; } sets[8];
    json_t *man = golden_manifest();
    for (size_t k = 0; *set && k < sizeof sets / sizeof *sets; k++) {
        if (!sets[k].set)
            sets[k].set = set, sets[k].manifest = golden_set_manifest(set);
        if (strcmp(sets[k].set, set) == 0) {
            man = sets[k].manifest;
            break;
        }
    }
    json_t *cases = json_object_get(man, "cases"), *c;
    size_t i;
    json_array_foreach(cases, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "id")), id) != 0)
            continue;
        golden_case g = {.json = c, .set = set, .id = id};
        g.kind = json_string_value(json_object_get(c, "kind"));
        g.model = json_string_value(json_object_get(c, "model"));
        g.sampler = json_string_value(json_object_get(c, "sampler"));
        g.steps = (int)json_integer_value(json_object_get(c, "steps"));
        g.width = (int)json_integer_value(json_object_get(c, "width"));
        g.height = (int)json_integer_value(json_object_get(c, "height"));
        g.cfg = json_number_value(json_object_get(c, "cfg_scale"));
        g.strength = json_number_value(json_object_get(c, "strength"));
        g.seed = json_integer_value(json_object_get(c, "seed"));
        const char *pred = json_string_value(json_object_get(c, "prediction_type"));
        g.v_prediction = pred && strcmp(pred, "v_prediction") == 0;
        return g;
    }
    cr_assert_fail("case %s not in the manifest", id);
    return (golden_case){0};
}

static golden_case find_case(const char *id) { return find_case_in("", id); }

static const char *text_of(const golden_case *g, const char *key)
{
    const char *s = json_string_value(json_object_get(g->json, key));
    return s ? s : "";
}

/* The golden file the case names under `key`, relative to the golden folder. */
static const char *file_of(const golden_case *g, const char *key)
{
    static char rel[4][512];
    static int next;
    char *buf = rel[next++ % 4];
    snprintf(buf, sizeof rel[0], "%s%s%s", g->set, *g->set ? "/" : "", text_of(g, key));
    return buf;
}

/* --lora-model-dir of the lora trajectories (their tags name files there). */
static const char *lora_dir(const golden_case *g)
{
    return strcmp(g->kind, "lora_txt2img") == 0 ? golden_path("lora/loras") : NULL;
}

/* --embd-dir of the textual-inversion trajectories. */
static const char *embd_dir(const golden_case *g)
{
    return strcmp(g->kind, "ti_txt2img") == 0 ? golden_path("lora/embeddings") : NULL;
}

/* --taesd of the TAESD trajectories: the case's file (diffusers or original decoder-only). */
static const char *taesd_file(const golden_case *g)
{
    return strcmp(g->kind, "txt2img_taesd") == 0 ? golden_path(file_of(g, "taesd_file")) : NULL;
}

/* ---- ControlNet cases: nets, pictures, scales and windows of the case ------------------- */

#define MAX_NETS 4

typedef struct case_controls {
    int count;
    sdc_control c[MAX_NETS];
    sdc_image pictures[MAX_NETS];
    char arg[MAX_NETS][3][32]; /* strength, start, end as text */
} case_controls;

/* Entry i of a per-net value that is a number for one net or a list for several. */
static double per_net(const golden_case *g, const char *key, int i)
{
    json_t *v = json_object_get(g->json, key);
    return json_number_value(json_is_array(v) ? json_array_get(v, (size_t)i) : v);
}

/* The file net i of the case names under `key`, relative to the golden folder. */
static const char *file_of_net(const golden_case *g, int i, const char *key)
{
    static char rel[4][512];
    static int next;
    char *buf = rel[next++ % 4];
    json_t *net = json_array_get(json_object_get(g->json, "controlnets"), (size_t)i);
    snprintf(buf, sizeof rel[0], "%s/%s", g->set, json_string_value(json_object_get(net, key)));
    return buf;
}

static case_controls controls_of(const golden_case *g)
{
    case_controls cc = {0};
    json_t *nets = json_object_get(g->json, "controlnets"), *net;
    size_t i;
    json_array_foreach(nets, i, net) {
        cr_assert_lt(i, MAX_NETS);
        char rel[512];
        sdc_control *c = &cc.c[i];
        *c = sdc_control_default_params();
        snprintf(rel, sizeof rel, "controlnet/%s",
                 json_string_value(json_object_get(net, "file")));
        c->path = strdup(golden_path(rel));
        snprintf(rel, sizeof rel, "controlnet/%s",
                 json_string_value(json_object_get(net, "picture")));
        cr_assert_eq(sdc_image_load(golden_path(rel), &cc.pictures[i], NULL), SDC_OK);
        c->rgb = cc.pictures[i].pixels;
        c->width = cc.pictures[i].width;
        c->height = cc.pictures[i].height;
        c->strength = (float)per_net(g, "controlnet_conditioning_scale", (int)i);
        c->start = (float)per_net(g, "control_guidance_start", (int)i);
        c->end = (float)per_net(g, "control_guidance_end", (int)i);
        snprintf(cc.arg[i][0], sizeof cc.arg[i][0], "%g", c->strength);
        snprintf(cc.arg[i][1], sizeof cc.arg[i][1], "%g", c->start);
        snprintf(cc.arg[i][2], sizeof cc.arg[i][2], "%g", c->end);
        cc.count++;
    }
    return cc;
}

static void controls_free(case_controls *cc)
{
    for (int i = 0; i < cc->count; i++) {
        free((char *)cc->c[i].path);
        sdc_image_free(&cc->pictures[i]);
    }
}

/* The contract's sampler flags: {sampling method, scheduler or NULL, --karras-sigmas}.
 * diffusers' DPM++ 2M with use_karras_sigmas (txt2img.*.dpmpp_2m_karras, not in the
 * contract's table) is `--scheduler linspace --karras-sigmas`. */
static void sampler_flags(const golden_case *g, const char **method, const char **scheduler,
                          int *karras_sigmas)
{
    int kdiff = strncmp(g->kind, "kdiffusion", 10) == 0;
    if (strcmp(g->kind, "txt2img_sdxl") == 0) { /* SDXL's own scheduler config: leading */
        *method = g->sampler;
        *scheduler = "leading";
        *karras_sigmas = 0;
        return;
    }
    const char *s = g->sampler;
    *scheduler = NULL;
    *karras_sigmas = 0;
    if (strcmp(g->set, "samplers") == 0) { /* golden/samplers/README.md's table */
        const char *schedule = text_of(g, "schedule");
        *method = s;
        if (strcmp(schedule, "discrete") != 0)
            *scheduler = schedule;
        if (strcmp(g->kind, "txt2img") == 0)
            *scheduler = "linspace";
        return;
    }
    if (strcmp(s, "dpmpp_2m_karras") == 0) {
        *method = "dpm++2m";
        *scheduler = kdiff ? "karras" : "linspace";
        *karras_sigmas = !kdiff;
        return;
    }
    *method = strcmp(s, "dpmpp_2m") == 0 ? "dpm++2m" : s;
    int diffusers_only = !strcmp(s, "ddim") || !strcmp(s, "ddpm") || !strcmp(s, "lcm");
    if (!kdiff && !diffusers_only)
        *scheduler = "linspace";
}

static char model_file[4][512];

/* Set by the tests that run a case from the diffusers folder instead of the single file. */
static int use_folder;

static const char *model_path(const golden_case *g)
{
    static int next;
    char *buf = model_file[next++ % 4];
    const char *own = json_string_value(json_object_get(g->json, "model_file"));
    if (own) /* golden/gguf: the case's own file of its set */
        snprintf(buf, sizeof model_file[0], "%s/%s/%s", golden_dir(), g->set, own);
    else
        snprintf(buf, sizeof model_file[0], "%s/models/%s/%s", golden_dir(), g->model,
                 use_folder ? "diffusers" : "model.safetensors");
    return buf;
}

/* Compares a picture with the case's PNG (inside the mask when there is one) and, with a
 * mask, the outside with the init image. */
static void check_picture(const golden_case *g, const uint8_t *rgb, const char *how)
{
    sdc_image expected, init = {0}, mask = {0};
    cr_assert_eq(sdc_image_load(golden_path(file_of(g, "png")), &expected, NULL), SDC_OK);
    int inpaint = strcmp(g->kind, "inpaint") == 0;
    if (inpaint) {
        cr_assert_eq(sdc_image_load(golden_path(file_of(g, "init_image")), &init, NULL), SDC_OK);
        cr_assert_eq(sdc_mask_load(golden_path(file_of(g, "mask_image")), 0, 0, g->width,
                                   g->height, &mask), SDC_OK);
    }
    int worst = 0, outside = 0;
    size_t n = (size_t)g->width * g->height;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            int v = rgb[i * 3 + c];
            if (inpaint && mask.pixels[i] < 128) {
                int d = abs(v - init.pixels[i * 3 + c]);
                outside = d > outside ? d : outside;
                continue;
            }
            int d = abs(v - expected.pixels[i * 3 + c]);
            worst = d > worst ? d : worst;
        }
    cr_expect_leq(worst, 2, "%s (%s): picture differs by %d/255", g->id, how, worst);
    cr_expect_eq(outside, 0, "%s (%s): pixels outside the mask changed by up to %d", g->id,
                 how, outside);
    sdc_image_free(&expected);
    sdc_image_free(&init);
    sdc_image_free(&mask);
}

/* The kinds that start from an init image. */
static int image_to_image(const golden_case *g)
{
    return !strcmp(g->kind, "img2img") || !strcmp(g->kind, "inpaint") ||
           !strcmp(g->kind, "depth2img");
}

static void run_library(const golden_case *g)
{
    sdc_model_params mp = sdc_model_default_params();
    mp.model_path = model_path(g);
    mp.prediction = g->v_prediction ? SDC_PREDICTION_FORCE_V : SDC_PREDICTION_AUTO;
    mp.taesd_path = taesd_file(g);
    sdc_model *m = NULL;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());

    sdc_generate_params p = sdc_generate_default_params();
    p.prompt = text_of(g, "prompt");
    p.negative_prompt = text_of(g, "negative_prompt");
    p.width = g->width;
    p.height = g->height;
    p.steps = g->steps;
    p.cfg_scale = (float)g->cfg;
    p.seed = (uint64_t)g->seed;
    p.rng = SDC_RNG_TYPE_CPU;
    sampler_flags(g, &p.sampler, &p.scheduler, &p.karras_sigmas);
    p.lora_dir = lora_dir(g);
    p.embd_dir = embd_dir(g);
    case_controls cc = controls_of(g);
    p.controls = cc.c;
    p.control_count = cc.count;
    sdc_image init = {0}, mask = {0};
    float *depth = NULL;
    if (strcmp(g->kind, "depth2img") == 0)
        cr_assert_eq(sdc_depth_map_read(golden_path(file_of(g, "depth_image")), &depth,
                                        &p.depth_width, &p.depth_height),
                     SDC_OK, "%s", sdc_last_error());
    p.depth_map = depth;
    int upscale = strcmp(g->kind, "upscale") == 0;
    if (upscale) { /* the low-res picture is the init image; the output is 4x */
        cr_assert_eq(sdc_image_load(golden_path(file_of(g, "low_res_image")), &init, NULL),
                     SDC_OK);
        p.init_rgb = init.pixels;
        p.init_width = init.width;
        p.init_height = init.height;
        p.noise_level = (int)json_integer_value(json_object_get(g->json, "noise_level"));
    }
    if (image_to_image(g)) {
        cr_assert_eq(sdc_image_load(golden_path(file_of(g, "init_image")), &init, NULL), SDC_OK);
        p.init_rgb = init.pixels;
        p.init_width = init.width;
        p.init_height = init.height;
        p.strength = (float)g->strength;
    }
    if (strcmp(g->kind, "inpaint") == 0) {
        cr_assert_eq(sdc_mask_load(golden_path(file_of(g, "mask_image")), 0, 0, init.width,
                                   init.height, &mask), SDC_OK);
        p.mask = mask.pixels;
        p.mask_blur = 0;
    }
    int down = upscale ? 4 : 8;
    size_t n = (size_t)4 * (g->height / down) * (g->width / down);
    float *latent = malloc(n * sizeof(float));
    uint8_t *rgb = malloc((size_t)g->width * g->height * 3);
    cr_assert_eq(sdc_pipeline_generate(m, &p, rgb, latent), SDC_OK, "%s", sdc_last_error());

    sdc_safetensors *st = golden_open(file_of(g, "file"));
    expect_close(latent, golden_get(st, "final_latent"), golden_set_tol(g->set, g->id, "final_latent"),
                 g->id);
    check_picture(g, rgb, "library");
    sdc_safetensors_close(st);
    free(latent);
    free(rgb);
    sdc_image_free(&init);
    sdc_image_free(&mask);
    free(depth);
    controls_free(&cc);
    sdc_model_free(m);
}

static void run_cli(const golden_case *g)
{
    char sdc[512], out[64], seed[32], steps[16], cfg[32], w[16], h[16], strength[32];
    snprintf(sdc, sizeof sdc, "%s/cmd/sdc", getenv("SDC_BUILD_DIR"));
    snprintf(out, sizeof out, "/tmp/sdc-test-%d.png", (int)getpid());
    snprintf(seed, sizeof seed, "%lld", g->seed);
    snprintf(steps, sizeof steps, "%d", g->steps);
    snprintf(cfg, sizeof cfg, "%g", g->cfg);
    snprintf(w, sizeof w, "%d", g->width);
    snprintf(h, sizeof h, "%d", g->height);
    snprintf(strength, sizeof strength, "%g", g->strength);
    const char *method, *scheduler;
    int karras_sigmas;
    sampler_flags(g, &method, &scheduler, &karras_sigmas);
    const char *argv[80] = {sdc, "-m", model_path(g), "-p", text_of(g, "prompt"), "-s", seed,
                            "--steps", steps, "--cfg-scale", cfg, "-W", w, "-H", h,
                            "--rng", "cpu", "--sampling-method", method, "-o", out,
                            "--overwrite", "--quiet"};
    int argc = 23;
    if (scheduler)
        argv[argc++] = "--scheduler", argv[argc++] = scheduler;
    if (karras_sigmas)
        argv[argc++] = "--karras-sigmas";
    if (*text_of(g, "negative_prompt"))
        argv[argc++] = "-n", argv[argc++] = text_of(g, "negative_prompt");
    if (g->v_prediction)
        argv[argc++] = "--prediction", argv[argc++] = "v";
    if (lora_dir(g))
        argv[argc++] = "--lora-model-dir", argv[argc++] = lora_dir(g);
    if (embd_dir(g))
        argv[argc++] = "--embd-dir", argv[argc++] = embd_dir(g);
    if (taesd_file(g))
        argv[argc++] = "--taesd", argv[argc++] = taesd_file(g);
    case_controls cc = controls_of(g);
    for (int i = 0; i < cc.count; i++) {
        argv[argc++] = "--control-net", argv[argc++] = cc.c[i].path;
        argv[argc++] = "--control-image",
        argv[argc++] = golden_path(file_of_net(g, i, "picture"));
        argv[argc++] = "--control-strength", argv[argc++] = cc.arg[i][0];
        if (cc.c[i].start != 0.0f || cc.c[i].end != 1.0f) {
            argv[argc++] = "--control-start", argv[argc++] = cc.arg[i][1];
            argv[argc++] = "--control-end", argv[argc++] = cc.arg[i][2];
        }
    }
    if (strcmp(g->kind, "depth2img") == 0)
        argv[argc++] = "--depth-map", argv[argc++] = golden_path(file_of(g, "depth_image"));
    char level[16];
    if (strcmp(g->kind, "upscale") == 0) {
        snprintf(level, sizeof level, "%lld",
                 json_integer_value(json_object_get(g->json, "noise_level")));
        argv[argc++] = "-i", argv[argc++] = golden_path(file_of(g, "low_res_image"));
        argv[argc++] = "--noise-level", argv[argc++] = level;
    }
    if (image_to_image(g)) {
        argv[argc++] = "-i", argv[argc++] = golden_path(file_of(g, "init_image"));
        argv[argc++] = "--strength", argv[argc++] = strength;
    }
    if (strcmp(g->kind, "inpaint") == 0) {
        argv[argc++] = "--mask", argv[argc++] = golden_path(file_of(g, "mask_image"));
        argv[argc++] = "--mask-blur", argv[argc++] = "0";
    }
    argv[argc] = NULL;
    pid_t pid;
    int status = -1;
    cr_assert_eq(posix_spawn(&pid, sdc, NULL, NULL, (char **)argv, environ), 0);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: sdc failed (status %d)",
              g->id, status);
    sdc_image written;
    cr_assert_eq(sdc_image_load(out, &written, NULL), SDC_OK, "%s", sdc_last_error());
    cr_assert_eq(written.width, g->width);
    cr_assert_eq(written.height, g->height);
    check_picture(g, written.pixels, "command line");
    sdc_image_free(&written);
    controls_free(&cc);
    remove(out);
}

static void check_case(const char *id)
{
    golden_case g = find_case(id);
    run_library(&g);
    run_cli(&g);
}

/* A case of a golden subfolder set ("lora", "controlnet", ...) the same way. */
static void check_case_in(const char *set, const char *id)
{
    golden_case g = find_case_in(set, id);
    run_library(&g);
    run_cli(&g);
}

/* The LoRA trajectories (tags in the prompt, files from --lora-model-dir) and the
 * textual-inversion one (--embd-dir). */
static void check_lora_case(const char *id) { check_case_in("lora", id); }

/* ControlNet trajectories (golden/controlnet): one net, a guidance window, two nets with a
 * picture of another size. */
static void check_controlnet_case(const char *id) { check_case_in("controlnet", id); }

/* A1111's prompt editing, alternation and AND (golden/prompts): the case's prompt and
 * negative prompt as written. */
static void check_prompts_case(const char *id) { check_case_in("prompts", id); }

/* TAESD trajectories (golden/taesd): the tiny VAE decodes, from its diffusers file and from
 * the original decoder-only file. */
static void check_taesd_case(const char *id) { check_case_in("taesd", id); }

Test(pipeline, taesd_diffusers_euler_a)
{
    check_taesd_case("txt2img_taesd.tiny-sd1.euler_a.diffusers");
}
Test(pipeline, taesd_original_euler_a) { check_taesd_case("txt2img_taesd.tiny-sd1.euler_a.original"); }

Test(pipeline, controlnet_ddim) { check_controlnet_case("controlnet_txt2img.tiny-sd1.ddim"); }
Test(pipeline, controlnet_ddim_window)
{
    check_controlnet_case("controlnet_txt2img.tiny-sd1.ddim_window");
}
Test(pipeline, controlnet_ddim_two_nets_resized_picture)
{
    check_controlnet_case("controlnet_txt2img.tiny-sd1.ddim_multi");
}

/* golden/gguf: stable-diffusion.cpp's q8_0 and q4_0 conversions of the tiny model */
Test(pipeline, gguf_q8_0_euler) { check_case_in("gguf", "txt2img.tiny-sd1.q8_0.euler"); }
Test(pipeline, gguf_q4_0_ddim) { check_case_in("gguf", "txt2img.tiny-sd1.q4_0.ddim"); }

#define GOLDEN_CASE(name, id) \
    Test(pipeline, name) { check_case(id); }

/* golden/samplers: AUTOMATIC1111's other k-diffusion samplers (Brownian noise for the SDE
 * ones), under their README's command lines. */
static void check_sampler_case(const char *id) { check_case_in("samplers", id); }

/* A suite of its own: meson runs it as the test pipeline_samplers (tests/meson.build). */
#define SAMPLER_CASE(name, id) \
    Test(pipeline_samplers, name) { check_sampler_case(id); }

SAMPLER_CASE(kdiffusion_lms, "kdiffusion.tiny-sd1.lms")
SAMPLER_CASE(kdiffusion_dpm2_karras, "kdiffusion.tiny-sd1.dpm_2")
SAMPLER_CASE(kdiffusion_dpm2_a_karras, "kdiffusion.tiny-sd1.dpm_2_ancestral")
SAMPLER_CASE(kdiffusion_dpmpp_2s_a_karras, "kdiffusion.tiny-sd1.dpmpp_2s_ancestral")
SAMPLER_CASE(kdiffusion_dpmpp_sde_karras, "kdiffusion.tiny-sd1.dpmpp_sde")
SAMPLER_CASE(kdiffusion_dpmpp_2m_sde_karras, "kdiffusion.tiny-sd1.dpmpp_2m_sde")
SAMPLER_CASE(kdiffusion_dpmpp_2m_sde_heun, "kdiffusion.tiny-sd1.dpmpp_2m_sde_heun")
SAMPLER_CASE(kdiffusion_dpmpp_3m_sde, "kdiffusion.tiny-sd1.dpmpp_3m_sde")
SAMPLER_CASE(txt2img_unipc, "txt2img.tiny-sd1.unipc")

GOLDEN_CASE(txt2img_sd1_ddim, "txt2img.tiny-sd1.ddim")
GOLDEN_CASE(txt2img_sd1_ddpm, "txt2img.tiny-sd1.ddpm")
GOLDEN_CASE(txt2img_sd1_lcm, "txt2img.tiny-sd1.lcm")
GOLDEN_CASE(txt2img_sd1_euler, "txt2img.tiny-sd1.euler")
GOLDEN_CASE(txt2img_sd1_euler_a, "txt2img.tiny-sd1.euler_a")
GOLDEN_CASE(txt2img_sd1_heun, "txt2img.tiny-sd1.heun")
GOLDEN_CASE(txt2img_sd1_dpmpp_2m, "txt2img.tiny-sd1.dpmpp_2m")
GOLDEN_CASE(txt2img_sd1_dpmpp_2m_karras, "txt2img.tiny-sd1.dpmpp_2m_karras")
GOLDEN_CASE(txt2img_sd2v_ddim, "txt2img.tiny-sd2v.ddim")
GOLDEN_CASE(txt2img_sd2v_euler, "txt2img.tiny-sd2v.euler")
GOLDEN_CASE(kdiffusion_sd1_euler, "kdiffusion.tiny-sd1.euler")
GOLDEN_CASE(kdiffusion_sd1_euler_a, "kdiffusion.tiny-sd1.euler_a")
GOLDEN_CASE(kdiffusion_sd1_heun, "kdiffusion.tiny-sd1.heun")
GOLDEN_CASE(kdiffusion_sd1_dpmpp_2m_karras, "kdiffusion.tiny-sd1.dpmpp_2m_karras")
GOLDEN_CASE(img2img_sd1_ddim, "img2img.tiny-sd1.ddim")
GOLDEN_CASE(inpaint_sd1_inpainting_model, "inpaint.tiny-sd1-inpaint.ddim")
GOLDEN_CASE(inpaint_sd1_latent_blending, "inpaint.tiny-sd1.ddim")
GOLDEN_CASE(depth2img_sd2_depth_ddim, "depth2img.tiny-sd2-depth.ddim")
GOLDEN_CASE(upscale_x4_noise_level_20, "upscale.tiny-x4-upscaler.ddim_nl20")
GOLDEN_CASE(upscale_x4_noise_level_100, "upscale.tiny-x4-upscaler.ddim_nl100")
GOLDEN_CASE(txt2img_sdxl_euler, "txt2img_sdxl.tiny-sdxl.euler")
GOLDEN_CASE(txt2img_sdxl_euler_a_zero_negative, "txt2img_sdxl.tiny-sdxl.euler_a")
GOLDEN_CASE(kdiffusion_sdxl_euler_a, "kdiffusion_sdxl.tiny-sdxl.euler_a")
GOLDEN_CASE(kdiffusion_sdxl_dpmpp_2m_karras, "kdiffusion_sdxl.tiny-sdxl.dpmpp_2m_karras")

Test(pipeline, lora_kohya_ddim) { check_lora_case("lora_txt2img.tiny-sd1.kohya_attn_te.ddim"); }
Test(pipeline, lora_locon_and_loha_euler)
{
    check_lora_case("lora_txt2img.tiny-sd1.locon_conv+loha_lin.euler");
}
Test(pipeline, lora_peft_two_weights_lokr_tucker_ddim)
{
    check_lora_case("lora_txt2img.tiny-sd1.peft_attn+lokr_lin+locon_tucker.ddim");
}
Test(pipeline, textual_inversion_ddim) { check_lora_case("ti_txt2img.tiny-sd1.ddim"); }
Test(pipeline, prompt_editing_euler_a) { check_prompts_case("kdiffusion.tiny-sd1.euler_a.edit"); }
Test(pipeline, prompt_alternation_heun)
{
    check_prompts_case("kdiffusion.tiny-sd1.heun.alternate");
}
Test(pipeline, prompt_and_dpmpp_2m_karras)
{
    check_prompts_case("kdiffusion.tiny-sd1.dpmpp_2m_karras.and");
}

/* SDXL's diffusers folder: text_encoder_2/, tokenizer_2/, the VAE scale from vae/config.json
 * and the scheduler config. */
Test(pipeline, txt2img_sdxl_euler_diffusers_folder)
{
    use_folder = 1;
    check_case("txt2img_sdxl.tiny-sdxl.euler");
    use_folder = 0;
}

/* ---- SDXL size conditioning ------------------------------------------------------------ */

typedef struct sdxl_run {
    sdc_model *m;
    sdc_generate_params p;
} sdxl_run;

static sdxl_run sdxl_small(void)
{
    sdxl_run r = {0};
    sdc_model_params mp = sdc_model_default_params();
    char path[512];
    snprintf(path, sizeof path, "%s/models/tiny-sdxl/model.safetensors", golden_dir());
    mp.model_path = path;
    cr_assert_eq(sdc_model_load(&mp, &r.m), SDC_OK, "%s", sdc_last_error());
    r.p = sdc_generate_default_params();
    r.p.prompt = "a photograph of an astronaut riding a horse";
    r.p.width = r.p.height = 64;
    r.p.steps = 2;
    r.p.seed = 5;
    return r;
}

static uint8_t *render(sdxl_run *r)
{
    uint8_t *rgb = malloc(64 * 64 * 3);
    cr_assert_eq(sdc_generate(r->m, &r->p, rgb), SDC_OK, "%s", sdc_last_error());
    return rgb;
}

Test(pipeline, sdxl_size_and_crop_conditioning_change_the_picture)
{
    sdxl_run r = sdxl_small();
    uint8_t *base = render(&r);
    r.p.original_width = r.p.original_height = 64; /* the default, said explicitly */
    r.p.target_width = r.p.target_height = 64;
    uint8_t *same = render(&r);
    cr_expect_eq(memcmp(base, same, 64 * 64 * 3), 0, "explicit defaults changed the picture");
    struct { int *field; int value; const char *what; } changes[] = {
        {&r.p.original_width, 1024, "original width"},
        {&r.p.original_height, 768, "original height"},
        {&r.p.crop_top, 32, "crop top"},
        {&r.p.crop_left, 16, "crop left"},
        {&r.p.target_width, 128, "target width"},
        {&r.p.target_height, 96, "target height"},
    };
    for (size_t i = 0; i < sizeof changes / sizeof *changes; i++) {
        int old = *changes[i].field;
        *changes[i].field = changes[i].value;
        uint8_t *changed = render(&r);
        cr_expect_neq(memcmp(base, changed, 64 * 64 * 3), 0, "%s had no effect", changes[i].what);
        free(changed);
        *changes[i].field = old;
    }
    /* a base model has no aesthetic score: refused rather than ignored */
    r.p.aesthetic_score = 7;
    uint8_t rgb[64 * 64 * 3];
    cr_expect_eq(sdc_generate(r.m, &r.p, rgb), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "refiner"), "%s", sdc_last_error());
    free(base);
    free(same);
    sdc_model_free(r.m);
}

static int same_picture(sdxl_run *r, const char *prompt, const uint8_t *base)
{
    r->p.prompt = prompt;
    uint8_t *rgb = render(r);
    int same = memcmp(rgb, base, 64 * 64 * 3) == 0;
    free(rgb);
    return same;
}

/* Both SDXL encoders and the pooled vector follow the schedule: a switch at step 0 is the
 * second text from the first call, one at or after the last counter value is the first
 * text throughout (the counter is 0, 1, 2 for 3 Euler a steps), one before it changes the
 * picture. A negative prompt empty at every step is the all-zero conditioning. */
Test(pipeline, prompt_schedules_drive_both_sdxl_encoders_and_the_pooled_vector)
{
    sdxl_run r = sdxl_small();
    r.p.steps = 3;
    const char *horse = r.p.prompt;
    uint8_t *base = render(&r);
    cr_expect(same_picture(&r, "[a red car:a photograph of an astronaut riding a horse:0]", base));
    cr_expect(same_picture(&r, "[a photograph of an astronaut riding a horse:a red car:2]", base));
    cr_expect(!same_picture(&r, "[a photograph of an astronaut riding a horse:a red car:1]", base));
    r.p.negative_prompt = "[:blurry:5]";
    cr_expect(same_picture(&r, horse, base), "an empty scheduled negative is not zeros");
    r.p.negative_prompt = "[blurry:noisy:1]";
    cr_expect(!same_picture(&r, horse, base));
    free(base);
    sdc_model_free(r.m);
}

static int count_calls(const char *stage, int step, int steps, void *user_data)
{
    (void)step;
    if (strcmp(stage, "sampling") == 0)
        *(int *)user_data = steps;
    return 0;
}

/* img2img builds the schedule over all the steps and counts from its first call, as A1111
 * does: with C calls of 10 steps, a switch after counter C - 1 is never reached. */
Test(pipeline, prompt_schedule_of_img2img_counts_from_its_first_call)
{
    sdc_model_params mp = sdc_model_default_params();
    char path[512];
    snprintf(path, sizeof path, "%s/models/tiny-sd1/model.safetensors", golden_dir());
    mp.model_path = path;
    sdc_model *m;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    sdxl_run r = {.m = m, .p = sdc_generate_default_params()};
    r.p.width = r.p.height = 64;
    r.p.steps = 10;
    r.p.seed = 3;
    r.p.prompt = "a castle";
    uint8_t *init = render(&r);
    int calls = 0;
    r.p.init_rgb = init;
    r.p.init_width = r.p.init_height = 64;
    r.p.strength = 0.5f;
    r.p.progress = count_calls;
    r.p.user_data = &calls;
    uint8_t *base = render(&r);
    cr_assert(calls > 2 && calls < r.p.steps, "%d calls", calls);
    char late[64], early[64];
    snprintf(late, sizeof late, "[a castle:a dog:%d]", calls - 1);
    snprintf(early, sizeof early, "[a castle:a dog:%d]", calls - 2);
    cr_expect(same_picture(&r, late, base), "%s changed the picture", late);
    cr_expect(!same_picture(&r, early, base), "%s had no effect", early);
    free(base);
    free(init);
    sdc_model_free(m);
}

Test(pipeline, size_conditioning_is_refused_for_sd1)
{
    sdc_model_params mp = sdc_model_default_params();
    char path[512];
    snprintf(path, sizeof path, "%s/models/tiny-sd1/model.safetensors", golden_dir());
    mp.model_path = path;
    sdc_model *m;
    cr_assert_eq(sdc_model_load(&mp, &m), SDC_OK, "%s", sdc_last_error());
    sdc_generate_params p = sdc_generate_default_params();
    p.prompt = "x";
    p.width = p.height = 64;
    p.steps = 1;
    p.crop_top = 8;
    uint8_t rgb[64 * 64 * 3];
    cr_expect_eq(sdc_generate(m, &p, rgb), SDC_ERR_ARG);
    cr_expect(strstr(sdc_last_error(), "SDXL"), "%s", sdc_last_error());
    sdc_model_free(m);
}
