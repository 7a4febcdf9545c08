/* `sdc -r PICTURE.png`: the picture's AUTOMATIC1111 parameters become command-line options
 * placed before the user's own (which therefore change them), and the files it names are
 * found by hash: the checkpoint in --model-dir by `Model hash` (then by `Model` name), each
 * LoRA of `Lora hashes` in the LoRA folder (a file found under another name is used under
 * that name), each embedding of `TI hashes` checked in --embd-dir. */
#include "cmd/rerender.h"

#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lora/lora.h"
#include "ops/error.h"
#include "ops/log.h"
#include "pipeline/infotext.h"
#include "weights/hash_cache.h"

typedef struct args {
    char **v;
    int n, cap;
    int failed;
} args;

static void add(args *a, const char *s)
{
    if (a->n + 2 > a->cap) {
        int cap = a->cap ? a->cap * 2 : 64;
        char **grown = realloc(a->v, (size_t)cap * sizeof *grown);
        if (!grown) {
            a->failed = 1;
            return;
        }
        a->v = grown;
        a->cap = cap;
    }
    char *copy = strdup(s);
    if (!copy)
        a->failed = 1;
    else
        a->v[a->n++] = copy, a->v[a->n] = NULL;
}

static void add2(args *a, const char *flag, const char *value)
{
    add(a, flag);
    add(a, value);
}

void sdc_rerender_free(int argc, char **argv)
{
    for (int i = 0; argv && i < argc; i++)
        free(argv[i]);
    free(argv);
}

/* ---- the user's command line ------------------------------------------------------------ */

typedef struct user_line {
    const char *png, *model_dir, *model, *lora_dir, *embd_dir, *init;
} user_line;

/* The value of option `name` (long, or short when not NULL) at argv[*i], advancing *i past
 * it; NULL when argv[*i] is not that option (*missing set when it is, without a value). */
static const char *option_value(int argc, char **argv, int *i, const char *name,
                                const char *short_name, int *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) == 0 && a[n] == '=')
        return a + n + 1;
    if (short_name && strncmp(a, short_name, 2) == 0 && a[2])
        return a + 2;
    if (strcmp(a, name) != 0 && !(short_name && strcmp(a, short_name) == 0))
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

/* Reads the options -r needs; the others (all but -r and --model-dir) go to `rest`. */
static int scan_user_line(int argc, char **argv, user_line *u, args *rest)
{
    memset(u, 0, sizeof *u);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { /* what follows is not options */
            for (; i < argc; i++)
                add(rest, argv[i]);
            break;
        }
        int missing = 0, j = i;
        const char *v;
        if ((v = option_value(argc, argv, &j, "--rerender", "-r", &missing))) {
            u->png = v;
            i = j;
            continue;
        }
        if ((v = option_value(argc, argv, &j, "--model-dir", NULL, &missing))) {
            u->model_dir = v;
            i = j;
            continue;
        }
        if (missing) {
            fprintf(stderr, "sdc: %s needs a value\n", argv[i]);
            return 2;
        }
        if ((v = option_value(argc, argv, &j, "--model", "-m", &missing)))
            u->model = v;
        else if ((v = option_value(argc, argv, &j, "--lora-model-dir", NULL, &missing)))
            u->lora_dir = v;
        else if ((v = option_value(argc, argv, &j, "--embd-dir", NULL, &missing)))
            u->embd_dir = v;
        else if ((v = option_value(argc, argv, &j, "--init-img", "-i", &missing)))
            u->init = v;
        for (; i < j; i++)
            add(rest, argv[i]);
        add(rest, argv[i]);
    }
    return 0;
}

/* ---- names: AUTOMATIC1111's display names to sdc's -------------------------------------- */

static const char *name_for(const char *display, int count, const char *(*name)(int),
                            const char *(*shown)(int))
{
    for (int i = 0; i < count; i++)
        if ((shown(i) && strcmp(shown(i), display) == 0) || strcmp(name(i), display) == 0)
            return name(i);
    return NULL;
}

/* "DPM++ 2M" -> dpm++2m; the old combined "DPM++ 2M Karras" also sets the schedule. */
static int sampler_of(const char *display, const char **sampler, const char **schedule)
{
    *sampler = name_for(display, sdc_sampler_count(), sdc_sampler_name,
                        sdc_sampler_display_name);
    for (int j = 0; !*sampler && j < sdc_scheduler_count(); j++) {
        const char *sd = sdc_scheduler_display_name(j);
        size_t n = strlen(display), m = sd ? strlen(sd) : 0;
        if (!sd || n <= m + 1 || display[n - m - 1] != ' ' || strcmp(display + n - m, sd))
            continue;
        char base[128];
        snprintf(base, sizeof base, "%.*s", (int)(n - m - 1), display);
        *sampler = name_for(base, sdc_sampler_count(), sdc_sampler_name,
                            sdc_sampler_display_name);
        if (*sampler)
            *schedule = sdc_scheduler_name(j);
    }
    return *sampler != NULL;
}

/* "512x768" -> "512,768" */
static int size_pair(const char *v, char *out, size_t cap)
{
    int w, h;
    char end;
    if (sscanf(v, "%dx%d%c", &w, &h, &end) != 2)
        return 0;
    snprintf(out, cap, "%d,%d", w, h);
    return 1;
}

/* ---- files found by hash ------------------------------------------------------------------ */

/* out = dir/name[.ext]; 0 when it does not fit. */
static int join(char *out, size_t cap, const char *dir, const char *name, const char *ext)
{
    int n = snprintf(out, cap, "%s/%s%s%s", dir, name, ext ? "." : "", ext ? ext : "");
    return n >= 0 && (size_t)n < cap;
}


static int is_model_file(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcmp(dot, ".safetensors") == 0 || strcmp(dot, ".ckpt") == 0 ||
                   strcmp(dot, ".pt") == 0 || strcmp(dot, ".gguf") == 0);
}

static int is_regular(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* AUTOMATIC1111's model hash: the file's SHA-256, its first 10 hex digits. */
static int model_hash_is(const char *path, const char *hash)
{
    char hex[65];
    return is_regular(path) && sdc_file_sha256_cached(path, hex) == SDC_OK &&
           strncasecmp(hex, hash, strlen(hash)) == 0 && strlen(hash) >= 8;
}

/* The checkpoint: DIR/NAME.ext when its hash is the picture's (or no hash is known), else
 * any file of DIR with that hash. */
static int find_model(const char *dir, const char *name, const char *hash, char *out,
                      size_t cap)
{
    static const char *const ext[] = {"safetensors", "ckpt", "gguf", ""};
    for (int i = 0; name && i < 4; i++) {
        if (join(out, cap, dir, name, *ext[i] ? ext[i] : NULL) && is_regular(out) &&
            (!hash || model_hash_is(out, hash)))
            return 1;
    }
    DIR *d = hash ? opendir(dir) : NULL;
    struct dirent *e;
    int found = 0;
    while (d && !found && (e = readdir(d)))
        if (is_model_file(e->d_name)) {
            found = join(out, cap, dir, e->d_name, NULL) && model_hash_is(out, hash);
        }
    if (d)
        closedir(d);
    return found;
}

static int lora_hash_is(const char *path, const char *hash)
{
    char hex[13];
    return is_regular(path) && sdc_lora_short_hash(path, hex) == SDC_OK &&
           strcasecmp(hex, hash) == 0;
}

/* The base name (no extension) of a LoRA file in dir with `hash`, into out; 0 when none. */
static int find_lora(const char *dir, const char *hash, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (d && !found && (e = readdir(d))) {
        const char *dot = strrchr(e->d_name, '.');
        if (!dot || (strcmp(dot, ".safetensors") && strcmp(dot, ".pt") && strcmp(dot, ".ckpt")))
            continue;
        char path[4096];
        if ((found = join(path, sizeof path, dir, e->d_name, NULL) && lora_hash_is(path, hash)))
            snprintf(out, cap, "%.*s", (int)(dot - e->d_name), e->d_name);
    }
    if (d)
        closedir(d);
    return found;
}

/* Calls fn(name, hash) for each "name: hash" of an AUTOMATIC1111 hashes list. */
static int each_hash(const char *list, int (*fn)(void *ctx, const char *name, const char *hash),
                     void *ctx)
{
    char *copy = strdup(list ? list : "");
    int ok = copy != NULL;
    for (char *item = copy, *next; ok && item && *item; item = next) {
        next = strstr(item, ", ");
        if (next)
            *next = '\0', next += 2;
        char *colon = strrchr(item, ':');
        if (!colon)
            continue;
        *colon = '\0';
        ok = fn(ctx, item, colon + 1 + strspn(colon + 1, " "));
    }
    free(copy);
    return ok;
}

/* ---- the picture's LoRAs and embeddings ----------------------------------------------------- */

typedef struct lora_ctx {
    const char *dir;
    char *prompt; /* owned; tags renamed where a file was found under another name */
} lora_ctx;

/* prompt with every `<lora:from:` written `<lora:to:` (malloc'd). */
static char *rename_tag(const char *prompt, const char *from, const char *to)
{
    size_t n = strlen(prompt) + 1, grow = strlen(to) > strlen(from) ? strlen(to) - strlen(from) : 0;
    for (const char *p = prompt; (p = strstr(p, "<lora:")); p++)
        n += grow;
    char *out = malloc(n), *o = out;
    if (!out)
        return NULL;
    size_t fl = strlen(from);
    for (const char *p = prompt; *p;) {
        if (strncmp(p, "<lora:", 6) == 0 && strncmp(p + 6, from, fl) == 0 &&
            (p[6 + fl] == ':' || p[6 + fl] == '>')) {
            o += sprintf(o, "<lora:%s", to);
            p += 6 + fl;
        } else
            *o++ = *p++;
    }
    *o = '\0';
    return out;
}

static int check_lora(void *ctx, const char *name, const char *hash)
{
    lora_ctx *l = ctx;
    static const char *const ext[] = {"safetensors", "pt", "ckpt"};
    char path[4096], found[1024];
    for (int i = 0; i < 3; i++) {
        if (join(path, sizeof path, l->dir, name, ext[i]) && lora_hash_is(path, hash))
            return 1;
    }
    if (find_lora(l->dir, hash, found, sizeof found)) {
        sdc_log(SDC_LOG_INFO, "-r: LoRA %s (hash %s) is %s/%s", name, hash, l->dir, found);
        char *renamed = rename_tag(l->prompt, name, found);
        if (!renamed)
            return 0;
        free(l->prompt);
        l->prompt = renamed;
        return 1;
    }
    fprintf(stderr, "sdc: the picture's LoRA %s (hash %s) is not in %s\n", name, hash, l->dir);
    return 0;
}

static int check_embedding(void *ctx, const char *name, const char *hash)
{
    const char *dir = ctx;
    static const char *const ext[] = {"safetensors", "pt"};
    for (int i = 0; i < 2; i++) {
        char path[4096], hex[65];
        if (!join(path, sizeof path, dir, name, ext[i]) || !is_regular(path))
            continue;
        if (sdc_file_sha256_cached(path, hex) != SDC_OK || strncasecmp(hex, hash, 12) != 0)
            sdc_log(SDC_LOG_WARNING, "-r: embedding %s is %s, whose hash %.12s is not the "
                    "picture's %s", name, path, hex, hash);
        return 1;
    }
    sdc_log(SDC_LOG_WARNING, "-r: the picture's embedding %s (hash %s) is not in %s: the "
            "word stays plain text", name, hash, dir);
    return 1;
}

/* ---- settings -> options ---------------------------------------------------------------------- */

typedef struct setting_map {
    const char *key, *flag;
} setting_map;

/* Settings whose value is the option's as written. */
static const setting_map plain_settings[] = {
    {"Steps", "--steps"}, {"CFG scale", "--cfg-scale"}, {"Seed", "--seed"},
    {"Clip skip", "--clip-skip"}, {"Eta DDIM", "--eta"}, {"FreeU", "--freeu"},
    {"Aesthetic score", "--aesthetic-score"},
    {"Negative aesthetic score", "--negative-aesthetic-score"},
    {"Refiner switch at", "--refiner-switch"}, {"Crop", "--crop"},
};

/* Settings read elsewhere in this file, or that change nothing. */
static const char *const consumed[] = {
    "Sampler", "Schedule type", "Scheduler", "Karras sigmas", "Size", "RNG",
    "Model hash", "Model", "Lora hashes", "TI hashes", "Denoising strength",
    "Original size", "Target size", "Refiner", "Prompt parsing", "UNet tiles", "Version",
    "Hires upscale", "Hires steps", "Hires upscaler", "Hires sampler",
};

static int is_consumed(const char *key)
{
    for (size_t i = 0; i < sizeof consumed / sizeof *consumed; i++)
        if (strcmp(key, consumed[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof plain_settings / sizeof *plain_settings; i++)
        if (strcmp(key, plain_settings[i].key) == 0)
            return 1;
    return 0;
}

static int fail(const char *png, const char *what, const char *value)
{
    fprintf(stderr, "sdc: %s: %s '%s'\n", png, what, value);
    return 1;
}

/* Sampler, schedule, size, RNG, SDXL sizes, strength: the settings that need a translation. */
static int translate(const sdc_infotext *t, const user_line *u, args *a)
{
    const char *v, *sampler = NULL, *schedule = NULL;
    char pair[64];
    if ((v = sdc_infotext_get(t, "Sampler")) && !sampler_of(v, &sampler, &schedule))
        return fail(u->png, "sdc has no sampler", v);
    if (sampler)
        add2(a, "--sampling-method", sampler);
    if ((v = sdc_infotext_get(t, "Schedule type")) &&
        !(schedule = name_for(v, sdc_scheduler_count(), sdc_scheduler_name,
                              sdc_scheduler_display_name)))
        return fail(u->png, "sdc has no schedule type", v);
    if ((v = sdc_infotext_get(t, "Scheduler")))
        schedule = v;
    if (schedule)
        add2(a, "--scheduler", schedule);
    if ((v = sdc_infotext_get(t, "Karras sigmas")) && strcmp(v, "on") == 0)
        add(a, "--karras-sigmas");
    if ((v = sdc_infotext_get(t, "Prompt parsing")) && strcmp(v, "plain") == 0)
        add(a, "--no-emphasis");
    if ((v = sdc_infotext_get(t, "UNet tiles")))
        add2(a, "--unet-tile", strcmp(v, "off") == 0 ? "-1" : v);
    if ((v = sdc_infotext_get(t, "RNG"))) {
        const char *rng = name_for(v, sdc_rng_count(), sdc_rng_name, sdc_rng_display_name);
        if (!rng)
            return fail(u->png, "sdc has no random number generator", v);
        add2(a, "--rng", rng);
    }
    static const char *const sizes[][2] = {{"Size", NULL},
                                           {"Original size", "--original-size"},
                                           {"Target size", "--target-size"}};
    for (int i = 0; i < 3; i++) {
        if (!(v = sdc_infotext_get(t, sizes[i][0])))
            continue;
        if (!size_pair(v, pair, sizeof pair))
            return fail(u->png, "a size is WIDTHxHEIGHT, not", v);
        if (sizes[i][1])
            add2(a, sizes[i][1], pair);
        else {
            *strchr(pair, ',') = '\0';
            add2(a, "-W", pair);
            add2(a, "-H", pair + strlen(pair) + 1);
        }
    }
    if ((v = sdc_infotext_get(t, "Denoising strength")) && !sdc_infotext_get(t, "Hires upscale")) {
        if (!u->init) {
            fprintf(stderr, "sdc: %s was made from an init image (Denoising strength %s): "
                    "give it with -i\n", u->png, v);
            return 1;
        }
        add2(a, "--strength", v);
    }
    return 0;
}

static void warn_unused(const sdc_infotext *t)
{
    char list[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < t->count; i++)
        if (!is_consumed(t->keys[i]) && used < sizeof list)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                                     t->keys[i]);
    if (used)
        sdc_log(SDC_LOG_WARNING, "-r: settings sdc does not reproduce, left out: %s", list);
}

/* The hires fix: AUTOMATIC1111's upscaler names, or an x4 model found by name. */
static int hires(const sdc_infotext *t, const user_line *u, args *a)
{
    const char *scale = sdc_infotext_get(t, "Hires upscale"), *v;
    if (!scale)
        return 0;
    add(a, "--hires-fix");
    add2(a, "--hr-scale", scale);
    if ((v = sdc_infotext_get(t, "Denoising strength")))
        add2(a, "--hr-denoising", v);
    if ((v = sdc_infotext_get(t, "Hires steps")))
        add2(a, "--hr-steps", v);
    if ((v = sdc_infotext_get(t, "Hires sampler"))) {
        const char *sampler = NULL, *schedule = NULL;
        if (!sampler_of(v, &sampler, &schedule))
            return fail(u->png, "sdc has no sampler", v);
        add2(a, "--hr-sampling-method", sampler);
    }
    static const char *const names[][2] = {
        {"Latent", "latent"}, {"Latent (nearest)", "latent-nearest"}, {"Lanczos", "lanczos"}};
    if (!(v = sdc_infotext_get(t, "Hires upscaler")))
        return 0;
    for (int i = 0; i < 3; i++)
        if (strcmp(v, names[i][0]) == 0) {
            add2(a, "--hr-upscaler", names[i][1]);
            return 0;
        }
    char path[4096];
    const char *dir = u->model_dir ? u->model_dir : ".";
    if (!find_model(dir, v, NULL, path, sizeof path)) {
        fprintf(stderr, "sdc: %s: its hires upscaler %s is neither latent, latent-nearest, "
                "lanczos nor a model in %s\n", u->png, v, dir);
        return 1;
    }
    add2(a, "--hr-upscaler", path);
    return 0;
}

/* -m and --refiner: the user's model, else the picture's found in the model folder. */
static int models(const sdc_infotext *t, const user_line *u, args *a, char *model, size_t cap)
{
    const char *dir = u->model_dir ? u->model_dir : ".";
    const char *hash = sdc_infotext_get(t, "Model hash"), *name = sdc_infotext_get(t, "Model");
    if (u->model)
        snprintf(model, cap, "%s", u->model);
    else if (!hash && !name) {
        fprintf(stderr, "sdc: %s names no model: give it with -m\n", u->png);
        return 1;
    } else if (!find_model(dir, name, hash, model, cap)) {
        fprintf(stderr, "sdc: %s: its model %s (hash %s) is not in %s (give --model-dir DIR "
                "or -m)\n", u->png, name ? name : "?", hash ? hash : "none", dir);
        return 1;
    } else {
        sdc_log(SDC_LOG_INFO, "-r: model %s", model);
        add2(a, "-m", model);
    }
    const char *refiner = sdc_infotext_get(t, "Refiner");
    char path[4096];
    if (refiner && !find_model(dir, refiner, NULL, path, sizeof path)) {
        fprintf(stderr, "sdc: %s: its refiner %s is not in %s\n", u->png, refiner, dir);
        return 1;
    }
    if (refiner)
        add2(a, "--refiner", path);
    return 0;
}

static int prompts(const sdc_infotext *t, const user_line *u, const char *model, args *a)
{
    char dir[4096];
    if (u->lora_dir)
        snprintf(dir, sizeof dir, "%s", u->lora_dir);
    else {
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", model);
        snprintf(dir, sizeof dir, "%s/loras", dirname(copy));
    }
    lora_ctx l = {dir, strdup(t->prompt)};
    if (!l.prompt || !each_hash(sdc_infotext_get(t, "Lora hashes"), check_lora, &l)) {
        free(l.prompt);
        return 1;
    }
    add2(a, "-p", l.prompt);
    free(l.prompt);
    if (*t->negative)
        add2(a, "-n", t->negative);
    const char *ti = sdc_infotext_get(t, "TI hashes");
    if (ti && !u->embd_dir)
        sdc_log(SDC_LOG_WARNING, "-r: the picture used textual-inversion embeddings (%s): "
                "give --embd-dir DIR", ti);
    else if (ti)
        each_hash(ti, check_embedding, (void *)u->embd_dir);
    return 0;
}

static int picture_options(const sdc_infotext *t, const user_line *u, args *a)
{
    char model[4096];
    if (models(t, u, a, model, sizeof model) || prompts(t, u, model, a) || translate(t, u, a) ||
        hires(t, u, a))
        return 1;
    for (size_t i = 0; i < sizeof plain_settings / sizeof *plain_settings; i++) {
        const char *v = sdc_infotext_get(t, plain_settings[i].key);
        if (v)
            add2(a, plain_settings[i].flag, v);
    }
    warn_unused(t);
    return 0;
}

int sdc_rerender_expand(int argc, char **argv, int *out_argc, char ***out_argv)
{
    *out_argc = 0;
    *out_argv = NULL;
    user_line u;
    args rest = {0}, a = {0};
    int rc = scan_user_line(argc, argv, &u, &rest);
    if (rc == 0 && !u.png && u.model_dir) {
        fprintf(stderr, "sdc: --model-dir is where -r finds a picture's model; give -r PNG\n");
        rc = 2;
    }
    if (rc || !u.png) {
        sdc_rerender_free(rest.n, rest.v);
        return rc;
    }
    char *text = NULL;
    sdc_infotext t = {0};
    if (sdc_png_read_parameters(u.png, &text) != SDC_OK) {
        fprintf(stderr, "sdc: %s\n", sdc_last_error());
        rc = 1;
    } else if (!text) {
        fprintf(stderr, "sdc: %s has no generation parameters to render again\n", u.png);
        rc = 1;
    } else if (sdc_infotext_parse(text, &t) != SDC_OK) {
        fprintf(stderr, "sdc: %s: %s\n", u.png, sdc_last_error());
        rc = 1;
    }
    add(&a, argv[0]);
    if (rc == 0)
        rc = picture_options(&t, &u, &a);
    for (int i = 0; rc == 0 && i < rest.n; i++)
        add(&a, rest.v[i]);
    if (rc == 0 && a.failed) {
        fprintf(stderr, "sdc: out of memory reading %s\n", u.png);
        rc = 1;
    }
    sdc_infotext_free(&t);
    free(text);
    sdc_rerender_free(rest.n, rest.v);
    if (rc) {
        sdc_rerender_free(a.n, a.v);
        return rc;
    }
    *out_argc = a.n;
    *out_argv = a.v;
    return 0;
}
